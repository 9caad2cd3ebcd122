// kernel.pid_max for the fork bomb's control: a small pid space that the
// bomb can exhaust when no pids.max stops it. Since Linux 6.14 each pid
// namespace has its own pid_max, so the control lowers it only in a
// namespace that the victim and the offender share. On older kernels
// pid_max is host-wide: it is lowered only on a disposable VM, for seconds,
// with a restorer process started first that writes the old value back if
// the harness dies.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ScenarioContext } from '../framework/types.js';

const PID_MAX_FILE = '/proc/sys/kernel/pid_max';

/** The kernel's RESERVED_PIDS: after the first wrap, pids are allocated from here up. */
const RESERVED_PIDS = 300;

/** The scope of the control's pid_max: one pid namespace, or the whole machine. */
export type PidMaxScope = 'namespace' | 'global';

/** Returns 'namespace' when the kernel has a pid_max per pid namespace (Linux 6.14+). */
export function pidMaxScope(kernelRelease: string): PidMaxScope {
  const [major = 0, minor = 0] = kernelRelease.split(/[.-]/).map(Number);
  return major > 6 || (major === 6 && minor >= 14) ? 'namespace' : 'global';
}

/**
 * Returns whether host-wide changes are allowed: on the isolab VM guest,
 * whose initramfs mounts the host's root over 9p as `hostroot` (under the
 * guest's overlay root), or when ISOLAB_DISPOSABLE=1 marks the machine as
 * disposable.
 */
export async function isDisposableTarget(): Promise<boolean> {
  if (process.env.ISOLAB_DISPOSABLE === '1') return true;
  const mounts = await fs.readFile('/proc/self/mounts', 'utf8').catch(() => '');
  return mounts.split('\n').some((line) => {
    const [source, , type] = line.split(' ');
    return source === 'hostroot' && type === '9p';
  });
}

/** Returns every task id (threads included) on the machine. */
async function allTaskIds(): Promise<Set<number>> {
  const ids = new Set<number>();
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const tasks = await fs.readdir(path.join('/proc', entry, 'task')).catch(() => [entry]);
    for (const tid of tasks) ids.add(Number(tid));
  }
  return ids;
}

/**
 * Returns the pid_max that leaves `freePids` unused pids in the range the
 * kernel allocates from after its first wrap ([RESERVED_PIDS, pid_max)).
 */
export async function pidMaxLeaving(freePids: number): Promise<number> {
  const used = await allTaskIds();
  let free = 0;
  let value = RESERVED_PIDS;
  while (free < freePids) {
    if (!used.has(value)) free++;
    value++;
  }
  return value;
}

/** A lowered host-wide pid_max and the process that restores it. */
export class GlobalPidMax {
  private restored = false;

  private constructor(
    readonly previous: number,
    readonly value: number,
    private readonly restorer: ChildProcess,
  ) {}

  /**
   * Starts the restorer (it writes `previous` back after `boundSeconds`, on a
   * signal, or when this process dies), then lowers pid_max to leave
   * `freePids` pids free.
   */
  static async lower(ctx: ScenarioContext, freePids: number, boundSeconds: number):
    Promise<GlobalPidMax> {
    const previous = Number((await fs.readFile(PID_MAX_FILE, 'utf8')).trim());
    const restorer = spawn(path.join(ctx.workloadsDir, 'restorer'),
      [String(boundSeconds), 'write', PID_MAX_FILE, String(previous)],
      { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error('the pid_max restorer did not start within 10 s'));
      }, 10_000);
      restorer.once('error', reject);
      restorer.stdout!.once('data', () => { clearTimeout(timer); resolve(); });
    });
    const value = await pidMaxLeaving(freePids);
    if (value < previous) await fs.writeFile(PID_MAX_FILE, String(value));
    ctx.log(`kernel.pid_max lowered from ${previous} to ${value} (${freePids} free pids)`);
    return new GlobalPidMax(previous, Math.min(value, previous), restorer);
  }

  /** Reads kernel.pid_max now, to record that it was restored. */
  async current(): Promise<number> {
    return Number((await fs.readFile(PID_MAX_FILE, 'utf8')).trim());
  }

  /** Writes the previous value back and ends the restorer; safe to repeat. */
  async restore(): Promise<void> {
    if (this.restored) return;
    this.restored = true;
    await fs.writeFile(PID_MAX_FILE, String(this.previous));
    const exited = new Promise((resolve) => this.restorer.once('exit', resolve));
    this.restorer.stdin!.end();
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
  }
}

/** Writes pid_max inside the pid namespace of a running container (Linux 6.14+). */
export async function setNamespacePidMax(ctx: ScenarioContext, id: string, value: number):
  Promise<void> {
  const result = await ctx.engine.execAndWait(id,
    ['sh', '-c', `echo ${value} > ${PID_MAX_FILE}`], { timeoutMs: 20_000 });
  if (result.exitCode !== 0) {
    throw new Error(`writing ${value} to ${PID_MAX_FILE} in container ${id} failed: `
      + `exit ${result.exitCode ?? result.signal}`);
  }
}
