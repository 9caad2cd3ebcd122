// Destroys the project's VM after its scenarios.
import { test as teardown } from '@playwright/test';
import path from 'node:path';
import { destroyVm } from '../../vm/qemu/runtime.js';
import { DEFAULT_RUN_DIR } from '../../vm/paths.js';
import { vmNameOf } from './target.js';

teardown('destroy the scenario VM', async ({}, testInfo) => {
  const project = testInfo.project.name.replace(/-teardown$/, '');
  await destroyVm(path.join(DEFAULT_RUN_DIR, vmNameOf(project)));
});
