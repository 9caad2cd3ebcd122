import { closeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { IsolabError } from '../errors.js';
import { pidfdOpen, sendSignal } from '../sys.js';
import { isAlive, type StateStore } from '../state.js';
import { openCgroup } from '../cgroup/index.js';
import { assertStatus, statusOf } from './status.js';

/** Parses a signal given as a number, `KILL` or `SIGKILL`. */
export function parseSignal(value: string | number): number {
  if (typeof value === 'number' || /^\d+$/.test(value)) {
    const n = Number(value);
    if (n >= 1 && n <= 64) return n;
  } else {
    const name = value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`;
    const n = (osConstants.signals as Record<string, number>)[name];
    if (n !== undefined) return n;
  }
  throw new IsolabError({ kind: 'invalid-input', op: 'parse signal', value: String(value), reason: 'use a name such as TERM or a number from 1 to 64' });
}

/** Sends a signal to the container's init, or with all to every process in its cgroup. */
export async function killContainer(
  store: StateStore,
  id: string,
  signal: string | number = 'SIGTERM',
  all = false,
): Promise<void> {
  const signo = parseSignal(signal);
  const record = await store.read(id);
  assertStatus(id, 'kill', await statusOf(store, record), ['created', 'running', 'paused']);
  if (all) {
    const cgroup = await openCgroup(record.cgroupPath);
    for (const pid of await cgroup.pids()) sendSignal(pid, signo);
    return;
  }
  const pidfd = pidfdOpen(record.pid);
  try {
    // The pidfd pins the process, so a start-time check after opening it rules
    // out a recycled pid.
    if (!isAlive(record.pid, record.pidStartTime)) return;
    sendSignal(record.pid, signo, pidfd);
  } finally {
    if (pidfd !== undefined) closeSync(pidfd);
  }
}
