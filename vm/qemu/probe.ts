// Boots a guest whose init powers off at once: the KVM probe and the boot
// benchmark's floor.
import { promises as fs } from 'node:fs';
import { POWEROFF_INIT, BOOT_MARK } from '../initramfs/scripts.js';
import type { KernelBuild } from '../kernels/store.js';
import { DEFAULT_RUN_DIR } from '../paths.js';
import { Teardown } from '../phases.js';
import { registerCleanup } from '../signals.js';
import { newVmName } from './runtime.js';
import { launchVm } from './launch.js';
import type { QemuOptions } from './options.js';

export interface PoweroffRun {
  ok: boolean;
  /** Host milliseconds from starting QEMU to its exit. */
  elapsedMs: number;
  detail: string;
}

/** Boots the poweroff init under accel and waits up to timeoutMs for QEMU to exit. */
export async function bootToPoweroff(
  build: KernelBuild,
  initramfs: string,
  accel: 'kvm' | 'tcg',
  options: QemuOptions & { timeoutMs: number },
): Promise<PoweroffRun> {
  const name = `${options.name ?? newVmName()}-floor`;
  const teardown = new Teardown(name);
  const unregister = registerCleanup({ run: () => teardown.run(), onExit: () => undefined });
  try {
    const started = Date.now();
    const vm = await launchVm({
      name,
      runDir: options.runDir ?? DEFAULT_RUN_DIR,
      build,
      initramfs,
      customInit: POWEROFF_INIT,
      accel,
      cpus: options.cpus ?? 2,
      memoryMiB: options.memoryMiB ?? 2048,
      swapMiB: 0,
      workDiskGiB: options.workDiskGiB ?? 8,
      cgroup: 'v2',
      sshPort: 0,
      detached: false,
      verboseConsole: options.verboseConsole ?? false,
    }, teardown);
    const timeout = new Promise<undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), options.timeoutMs);
      timer.unref();
    });
    const exit = await Promise.race([vm.exited, timeout]);
    const elapsedMs = Date.now() - started;
    const serial = await fs.readFile(vm.serialLog, 'utf8').catch(() => '');
    if (exit === undefined) return { ok: false, elapsedMs, detail: `the guest did not power off within ${options.timeoutMs / 1000} s` };
    const reached = serial.includes(`${BOOT_MARK} poweroff`);
    return { ok: reached, elapsedMs, detail: reached ? `the guest reached init and powered off in ${elapsedMs} ms` : `QEMU ended (${exit}) before init ran` };
  } finally {
    await teardown.run();
    unregister();
  }
}

/** Boots the poweroff init under KVM: KVM is usable only if the guest gets to init. */
export async function probeKvm(build: KernelBuild, initramfs: string, options: QemuOptions): Promise<{ ok: boolean; detail: string }> {
  const result = await bootToPoweroff(build, initramfs, 'kvm', { ...options, name: `kvm-probe-${newVmName().slice(3)}`, cpus: 1, memoryMiB: 512, timeoutMs: 20_000 });
  return { ok: result.ok, detail: result.detail };
}
