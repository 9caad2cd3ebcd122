// Fetches every kernel, builds its initramfs and runs the KVM probe before any VM test boots.
import { test, expect } from '@playwright/test';
import { ensureInitramfs } from '../initramfs/build.js';
import { KERNELS } from '../kernels/catalog.js';
import { ensureKernel } from '../kernels/store.js';
import { DEFAULT_CACHE_DIR, DEFAULT_RUN_DIR } from '../paths.js';
import { chooseAccel } from '../qemu/accel.js';
import { probeKvm } from '../qemu/probe.js';
import { collectGarbage } from '../qemu/runtime.js';

test('fetch kernels and probe KVM', async () => {
  await collectGarbage(DEFAULT_RUN_DIR);
  for (const spec of KERNELS) {
    const build = await ensureKernel(DEFAULT_CACHE_DIR, { spec });
    expect(build.packageVersion).toMatch(/^\d+\.\d+/);
    const initramfs = await ensureInitramfs(build);
    if (spec.name === 'debian-6.1') {
      const choice = await chooseAccel('auto', DEFAULT_CACHE_DIR, () => probeKvm(build, initramfs, {}));
      test.info().annotations.push({ type: 'accel', description: `${choice.accel}: ${choice.reason}` });
    }
  }
});
