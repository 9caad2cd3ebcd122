// Boots a VM in phases, each with a timeout, and tears down whatever was made
// when a phase fails or the process gets SIGINT or SIGTERM.
import type { Client } from 'ssh2';
import { IsolabError } from '../../engine/errors.js';
import { ensureInitramfs } from '../initramfs/build.js';
import { parseKernelRequest } from '../kernels/catalog.js';
import { ensureKernel, type KernelBuild } from '../kernels/store.js';
import { phase, Teardown } from '../phases.js';
import { registerCleanup } from '../signals.js';
import { connectSsh } from '../ssh-session.js';
import { DEFAULT_CACHE_DIR, DEFAULT_RUN_DIR } from '../paths.js';
import { chooseAccel, qemuVersion, type AccelChoice } from './accel.js';
import { launchVm, type LaunchedVm, type LaunchRequest } from './launch.js';
import { newVmName, validateVmName } from './runtime.js';
import { ConsoleWatch } from './watchdog.js';
import { probeKvm } from './probe.js';
import type { QemuOptions } from './options.js';

/** Everything a booted VM consists of, for the machine that wraps it. */
export interface BootedVm {
  launched: LaunchedVm;
  build: KernelBuild;
  accel: AccelChoice;
  watch: ConsoleWatch;
  client: Client;
  teardown: Teardown;
  /** Unregisters the SIGINT/SIGTERM teardown, for a VM that outlives this process. */
  release: () => void;
  /** Host milliseconds from QEMU's start to SSH being ready, by step. */
  timing: BootTiming;
}

export interface BootTiming {
  launchMs: number;
  readyMs: number;
  /** Guest uptime in seconds at each boot mark (init, modules, root, sshd, ready). */
  marks: Record<string, number>;
}

/** Boots a VM and returns it once SSH is ready and the guest finished provisioning. */
export async function bootVm(options: QemuOptions): Promise<BootedVm> {
  const name = options.name ?? newVmName();
  validateVmName(name);
  const teardown = new Teardown(name);
  let qemuPid: number | null = null;
  const unregister = registerCleanup({
    run: () => teardown.run(),
    // On a plain exit only a synchronous kill is possible; gc removes the directory.
    onExit: () => killSync(qemuPid),
  });
  try {
    const { build, initramfs, accel } = await resolveInputs(name, options);
    const started = Date.now();
    const launched = await launchVm(launchRequest(name, options, build, initramfs, accel), teardown);
    qemuPid = launched.record.qemuPid;
    const launchMs = Date.now() - started;

    const watch = watchConsole(name, launched, teardown, options.hangTimeoutMs ?? 30_000);
    const client = await phase(name, 'boot vm', 'wait-ssh', options.bootTimeoutMs ?? 300_000, (signal) =>
      waitForSsh(launched, watch, signal));
    teardown.defer('close the SSH connection', () => void client.end());
    const timing = { launchMs, readyMs: Date.now() - started, marks: marksOf(watch) };
    return { launched, build, accel, watch, client, teardown, release: unregister, timing };
  } catch (err) {
    await teardown.run();
    unregister();
    throw err;
  }
}

/** Finds or fetches the kernel, builds its initramfs and picks the accelerator. */
async function resolveInputs(
  name: string,
  options: QemuOptions,
): Promise<{ build: KernelBuild; initramfs: string; accel: AccelChoice }> {
  const cacheDir = options.cacheDir ?? DEFAULT_CACHE_DIR;
  await qemuVersion();
  const request = parseKernelRequest(options.kernel);
  const build = await phase(name, 'boot vm', 'resolve-kernel', 30 * 60_000, () => ensureKernel(cacheDir, request));
  const initramfs = await phase(name, 'boot vm', 'build-initramfs', 10 * 60_000, () => ensureInitramfs(build));
  const accel = await phase(name, 'boot vm', 'choose-accel', 120_000, () =>
    chooseAccel(options.accel ?? 'auto', cacheDir, () => probeKvm(build, initramfs, options)));
  return { build, initramfs, accel };
}

function launchRequest(
  name: string,
  options: QemuOptions,
  build: KernelBuild,
  initramfs: string,
  accel: AccelChoice,
): LaunchRequest {
  return {
    name,
    runDir: options.runDir ?? DEFAULT_RUN_DIR,
    build,
    initramfs,
    customInit: options.customInit,
    accel: accel.accel,
    cpus: options.cpus ?? 2,
    memoryMiB: options.memoryMiB ?? 2048,
    swapMiB: options.swapMiB ?? 0,
    workDiskGiB: options.workDiskGiB ?? 8,
    cgroup: options.cgroup ?? 'v2',
    sshPort: options.sshPort ?? 0,
    detached: options.detached ?? false,
    verboseConsole: options.verboseConsole ?? false,
  };
}

/** Starts the console watch; QEMU exiting before teardown fails the VM. */
function watchConsole(name: string, launched: LaunchedVm, teardown: Teardown, hangTimeoutMs: number): ConsoleWatch {
  const watch = new ConsoleWatch(launched.serialLog, name, hangTimeoutMs);
  let stopping = false;
  teardown.defer('stop the console watch', () => {
    stopping = true;
    watch.stop();
  });
  void launched.exited.then(async (description) => {
    if (!stopping) await watch.qemuExited(description);
  });
  watch.start();
  return watch;
}

/**
 * Connects once the guest printed that sshd started, and returns once the guest
 * also printed that it is ready. Fails on a hung or crashed guest.
 */
async function waitForSsh(launched: LaunchedVm, watch: ConsoleWatch, signal: AbortSignal): Promise<Client> {
  const { record, keys } = launched;
  let client: Client | undefined;
  let attempts = 0;
  try {
    for (;;) {
      if (signal.aborted) throw signal.reason;
      if (watch.failure) throw asBootFailure(watch.failure);
      if (!client && watch.marks.has('sshd')) {
        const endpoint = { host: '127.0.0.1', port: record.sshPort, username: 'root', ...keys };
        // sshd listens by now, so a slow attempt is retried rather than waited for.
        attempts++;
        const attemptMs = attempts <= 2 ? 5000 : 15_000;
        client = await connectSsh(endpoint, attemptMs, () => watch.noteResponse()).catch(() => undefined);
        if (client) watch.noteResponse();
      }
      if (client && watch.marks.has('ready')) return client;
      await new Promise((resolve) => setTimeout(resolve, 50));
      await watch.poll();
    }
  } catch (err) {
    client?.end();
    throw err;
  }
}

function asBootFailure(failure: IsolabError): IsolabError {
  return new IsolabError({
    kind: failure.kind,
    op: 'boot vm',
    value: failure.value,
    phase: 'wait-ssh',
    reason: failure.reason,
    logExcerpt: failure.logExcerpt,
  });
}

function marksOf(watch: ConsoleWatch): Record<string, number> {
  return Object.fromEntries([...watch.marks].map(([step, mark]) => [step, mark.uptime]));
}

function killSync(pid: number | null): void {
  if (pid === null) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
