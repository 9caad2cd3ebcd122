// The qemu target: a fresh VM on a Debian kernel per start, destroyed by shutdown.
import { SshMachine } from '../ssh-machine.js';
import { execChannel } from '../ssh-session.js';
import type { Machine, Target } from '../types.js';
import { bootVm, type BootedVm, type BootTiming } from './boot.js';
import type { QemuOptions } from './options.js';
import { writeRecord, type VmRecord } from './runtime.js';

/** How often the machine checks for a quiet guest, and how long a liveness probe may take. */
const PROBE_INTERVAL_MS = 1000;
const PROBE_TIMEOUT_MS = 10_000;

/** A machine in a VM: an SSH machine whose commands fail when the guest kernel hangs or crashes. */
export class QemuMachine extends SshMachine {
  readonly record: VmRecord;
  readonly timing: BootTiming;
  readonly accelReason: string;
  private livenessTimer: NodeJS.Timeout | undefined;

  constructor(private readonly vm: BootedVm, private readonly hangTimeoutMs: number) {
    const { watch, build, accel } = vm;
    super(vm.client, {
      name: vm.launched.record.name,
      target: 'qemu',
      disposable: true,
      attacksAllowed: true,
      workDir: vm.launched.record.workDir,
    }, {
      failure: watch.failed,
      warningCount: () => watch.warnings.length,
      warningsSince: (count) => watch.warnings.slice(count),
      onResponse: () => watch.noteResponse(),
      extendFacts: (facts) => ({
        ...facts,
        package: { name: build.packageName, version: build.packageVersion },
        accel: accel.accel,
      }),
      destroy: async () => {
        await vm.teardown.run();
        vm.release();
      },
    });
    this.record = vm.launched.record;
    this.timing = vm.timing;
    this.accelReason = accel.reason;
    this.startLivenessProbe();
  }

  /** Returns the serial console's last lines. */
  consoleExcerpt(lines = 40): string {
    return this.vm.watch.excerpt(lines);
  }

  /**
   * Leaves the VM running after this process exits: `isolab vm exec` and
   * `isolab vm destroy` find it by name, `isolab vm gc` once it has stopped.
   */
  async detach(): Promise<void> {
    clearInterval(this.livenessTimer);
    this.vm.watch.stop();
    this.vm.client.end();
    this.vm.release();
    this.record.ownerPid = null;
    this.record.ownerStartTime = null;
    await writeRecord(this.record);
  }

  // A guest with a quiet console is asked over SSH whether it is alive, so the
  // watchdog can distinguish a hung kernel from an idle one.
  private startLivenessProbe(): void {
    const { watch, client } = this.vm;
    if (this.hangTimeoutMs <= 0) return;
    let probing = false;
    this.livenessTimer = setInterval(() => {
      if (probing || watch.failure) return;
      if (Date.now() - watch.lastSignOfLife() < this.hangTimeoutMs / 3) return;
      probing = true;
      execChannel(client, this.name, 'true', { timeoutMs: PROBE_TIMEOUT_MS })
        .then(() => watch.noteResponse(), () => undefined)
        .finally(() => {
          probing = false;
        });
    }, PROBE_INTERVAL_MS);
    this.livenessTimer.unref();
    this.vm.teardown.defer('stop the liveness probe', () => clearInterval(this.livenessTimer));
  }
}

/** The default target: each start boots a fresh VM with the given options. */
export class QemuTarget implements Target {
  readonly kind = 'qemu';
  readonly disposable = true;

  constructor(private readonly options: QemuOptions = {}) {}

  async start(): Promise<QemuMachine> {
    return new QemuMachine(await bootVm(this.options), this.options.hangTimeoutMs ?? 30_000);
  }
}

/** Boots a VM, runs work on it, and destroys it whatever happens. */
export async function withVm<T>(options: QemuOptions, work: (machine: Machine) => Promise<T>): Promise<T> {
  const machine = await new QemuTarget(options).start();
  try {
    return await work(machine);
  } finally {
    await machine.shutdown();
  }
}
