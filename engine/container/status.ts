import { promises as fs } from 'node:fs';
import path from 'node:path';
import { IsolabError } from '../errors.js';
import { isAlive, type ContainerRecord, type StateStore } from '../state.js';
import { openCgroup } from '../cgroup/index.js';
import type { Cgroup } from '../cgroup/types.js';

/** OCI runtime states, plus `paused` as runc reports it. */
export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** Derives a container's status from its init process, exec fifo, exit record and freezer. */
export async function statusOf(store: StateStore, record: ContainerRecord): Promise<Status> {
  if (await store.readExit(record.id)) return 'stopped';
  if (!isAlive(record.pid, record.pidStartTime)) return 'stopped';
  try {
    await fs.access(path.join(store.dir(record.id), 'exec.fifo'));
    return 'created';
  } catch {
    // No fifo: start has opened it and init went on to exec.
  }
  const cgroup = await openCgroup(record.cgroupPath);
  return (await cgroup.isFrozen()) ? 'paused' : 'running';
}

/**
 * Opens a container's cgroup for removal. The root's default cgroup parent is
 * shared by its containers and is removed by whichever delete finds it
 * empty; rmdir fails on a non-empty cgroup, so that is safe.
 */
export async function openForRemoval(store: StateStore, record: ContainerRecord): Promise<Cgroup> {
  const parent = store.cgroupParent;
  const shared = record.cgroupPath.startsWith(`${parent}/`) ? [parent] : [];
  return openCgroup(record.cgroupPath, { createdPaths: [...(record.cgroupCreated ?? []), ...shared] });
}

/** Throws a bad-state error naming both states unless status is one of allowed. */
export function assertStatus(id: string, op: string, status: Status, allowed: Status[]): void {
  if (allowed.includes(status)) return;
  throw new IsolabError({
    kind: 'bad-state',
    op: `${op} container`,
    value: id,
    reason: `it is ${status}; it must be ${allowed.join(' or ')}`,
  });
}
