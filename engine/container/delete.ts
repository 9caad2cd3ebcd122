import { IsolabError } from '../errors.js';
import { isAlive, validateId, type ContainerRecord, type StateStore } from '../state.js';
import { openCgroup } from '../cgroup/index.js';
import { sendSignal } from '../sys.js';
import { teardownNetwork } from '../network/index.js';
import { assertStatus, openForRemoval, statusOf } from './status.js';

/**
 * Deletes a container: kills what is left in its cgroup, waits for the
 * monitor, removes the cgroup, the network and the state directory. Without
 * force, a running or paused container is rejected. Deleting an id that does
 * not exist is a no-op, so a second delete succeeds.
 */
export async function deleteContainer(store: StateStore, id: string, force = false): Promise<void> {
  validateId(id);
  await store.checkRoot();
  const lock = await store.lock(id);
  try {
    await deleteLocked(store, id, force);
  } finally {
    lock.release();
  }
}

/** Deletes with the container's lock already held (gc takes it without waiting). */
export async function deleteLocked(store: StateStore, id: string, force: boolean): Promise<void> {
  let record: ContainerRecord | undefined;
  try {
    record = (await store.exists(id)) ? await store.read(id) : undefined;
  } catch (err) {
    // A corrupt state.json: only a forced delete goes on, from the intent record.
    if (!force) throw err;
  }
  if (!record) {
    await removeHalfMade(store, id);
    return;
  }
  const status = await statusOf(store, record);
  if (!force) assertStatus(id, 'delete', status, ['created', 'stopped']);

  const cgroup = await openForRemoval(store, record);
  await cgroup.thaw().catch(() => undefined);
  await cgroup.killAll(10_000);
  await waitForExit(record.monitorPid, record.monitorStartTime, 5000);
  await cgroup.destroy();
  await teardownNetwork(store, id);
  await store.remove(id);
}

/** Removes what a create that crashed, or a container with a corrupt record, left behind. */
async function removeHalfMade(store: StateStore, id: string): Promise<void> {
  const intent = await store.readIntent(id);
  if (intent) {
    const shared = intent.cgroupPath.startsWith(`${store.cgroupParent}/`) ? [store.cgroupParent] : [];
    const cgroup = await openCgroup(intent.cgroupPath, { createdPaths: [intent.cgroupPath, ...shared] });
    await cgroup.thaw().catch(() => undefined);
    await cgroup.killAll(10_000);
    await cgroup.destroy();
  }
  await teardownNetwork(store, id);
  await store.remove(id);
}

/** Waits for a process to exit, then kills it if it has not; only the given process is touched. */
async function waitForExit(pid: number, startTime: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 1; isAlive(pid, startTime); delay = Math.min(delay * 2, 20)) {
    if (Date.now() > deadline) {
      sendSignal(pid, 9);
      if (Date.now() > deadline + 2000) {
        throw new IsolabError({ kind: 'timeout', op: 'stop monitor', value: String(pid), reason: 'it did not exit after SIGKILL' });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
