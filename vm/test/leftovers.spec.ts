// Runs after every VM test: no QEMU process and no directory of a test VM may
// remain. VMs that others run on this host are left alone.
import { test, expect } from '@playwright/test';
import { promises as fs } from 'node:fs';
import { DEFAULT_RUN_DIR } from '../paths.js';
import { qemuProcessesOf, TEST_VM_PREFIX } from './processes.js';

test('no QEMU process remains', async () => {
  expect(await qemuProcessesOf()).toEqual([]);
});

test('no VM directory remains', async () => {
  const names = await fs.readdir(DEFAULT_RUN_DIR).catch(() => [] as string[]);
  expect(names.filter((name) => name.startsWith(TEST_VM_PREFIX) || name.startsWith('kvm-probe-'))).toEqual([]);
});
