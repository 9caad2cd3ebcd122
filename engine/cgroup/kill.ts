// Killing every process of a cgroup without cgroup.kill: freeze, SIGKILL
// each pid, thaw, and repeat until the cgroup is empty.

import { IsolabError, fromSystemError } from '../errors.js';
import { pollUntil, sleep } from './files.js';

/** Default time killAll() waits for the cgroup to empty, in milliseconds. */
export const defaultKillTimeoutMs = 5000;

/** The parts of a manager that the kill loop uses. */
export interface KillTarget {
  /** The cgroup's name for messages, such as `isolab/web1`. */
  path: string;
  pids(): Promise<number[]>;
  /** Absent when no freezer is available, so the loop races with fork(). */
  freeze?(timeoutMs: number): Promise<void>;
  thaw?(timeoutMs: number): Promise<void>;
  kill(pid: number, signal: NodeJS.Signals): void;
}

function timedOut(path: string, pids: number[], timeoutMs: number): IsolabError {
  return new IsolabError({
    kind: 'timeout',
    op: 'kill processes of cgroup',
    value: path,
    reason: `pids ${pids.join(', ')} were still there after ${timeoutMs} ms`,
  });
}

/**
 * Kills every process in the cgroup. Freezing first stops a fork bomb from
 * adding pids between reading cgroup.procs and sending SIGKILL. A frozen task
 * keeps the signal pending and dies as soon as it is thawed.
 */
export async function killByFreezing(target: KillTarget, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = await target.pids();
    if (pids.length === 0) return;
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw timedOut(target.path, pids, timeoutMs);

    // A freeze that does not settle (a task in uninterruptible sleep) must not
    // stop the kill, so its timeout is short and its failure is ignored.
    const stepMs = Math.min(remaining, 1000);
    const frozen = target.freeze
      ? await target.freeze(stepMs).then(() => true, () => false)
      : false;
    for (const pid of await target.pids()) sendKill(target, pid);
    if (frozen && target.thaw) await target.thaw(stepMs);
    await sleep(10);
  }
}

/** Waits until `pids()` is empty, after cgroup.kill has signalled every task. */
export async function waitForEmpty(target: KillTarget, timeoutMs: number): Promise<void> {
  let pids: number[] = [];
  const empty = await pollUntil(async () => {
    pids = await target.pids();
    return pids.length === 0;
  }, timeoutMs);
  if (!empty) throw timedOut(target.path, pids, timeoutMs);
}

function sendKill(target: KillTarget, pid: number): void {
  try {
    target.kill(pid, 'SIGKILL');
  } catch (err) {
    // The process exited after cgroup.procs was read.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return;
    throw fromSystemError('kill process', String(pid), err);
  }
}
