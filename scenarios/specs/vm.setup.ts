// Boots the project's VM and leaves it running for the scenario workers.
import { test as setup } from '@playwright/test';
import path from 'node:path';
import { QemuTarget } from '../../vm/qemu/target.js';
import { destroyVm } from '../../vm/qemu/runtime.js';
import { DEFAULT_RUN_DIR } from '../../vm/paths.js';
import { SCENARIO_VM, vmNameOf, type TargetOptions } from './target.js';

setup('boot the scenario VM', async ({}, testInfo) => {
  setup.setTimeout(20 * 60_000);
  const project = testInfo.project.name.replace(/-setup$/, '');
  const options = testInfo.project.use as Partial<TargetOptions>;
  const name = vmNameOf(project);
  // A VM of the same name from an interrupted run goes first.
  await destroyVm(path.join(DEFAULT_RUN_DIR, name));
  const machine = await new QemuTarget({
    ...SCENARIO_VM,
    kernel: options.vmKernel ?? 'debian-6.1',
    cgroup: options.vmCgroup ?? 'v2',
    name,
    detached: true,
  }).start();
  await machine.detach();
  testInfo.annotations.push({ type: 'vm', description: `${name}: boot to SSH ${machine.timing.readyMs} ms` });
});
