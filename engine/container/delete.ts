import { EngineError } from '../errors.js';
import { isAlive, validateId, type StateStore } from '../state.js';
import { sendSignal } from '../sys.js';
import { teardownNetwork } from '../network/index.js';
import { assertStatus, openForRemoval, statusOf } from './status.js';

/**
 * Deletes a container: kills what is left in its cgroup, waits for the
 * monitor, removes the cgroup and the state directory. Without force, a
 * running or paused container is rejected. Deleting an id that does not
 * exist is a no-op, so a second delete succeeds.
 */
export async function deleteContainer(store: StateStore, id: string, force = false): Promise<void> {
  validateId(id);
  const lock = await store.lock(id);
  try {
    if (!(await store.exists(id))) {
      // A state directory without state.json is a create that crashed halfway.
      await teardownNetwork(store, id);
      await store.remove(id);
      return;
    }
    const record = await store.read(id);
    const status = await statusOf(store, record);
    if (!force) assertStatus(id, 'delete', status, ['created', 'stopped']);

    const cgroup = await openForRemoval(store, record);
    await cgroup.thaw().catch(() => undefined);
    await cgroup.killAll(10_000);
    await waitForExit(record.monitorPid, record.monitorStartTime, 5000);
    await cgroup.destroy();
    await teardownNetwork(store, id);
    await store.remove(id);
  } finally {
    lock.release();
  }
}

/** Waits for a process to exit, then kills it if it has not; only the given process is touched. */
async function waitForExit(pid: number, startTime: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 1; isAlive(pid, startTime); delay = Math.min(delay * 2, 20)) {
    if (Date.now() > deadline) {
      sendSignal(pid, 9);
      if (Date.now() > deadline + 2000) {
        throw new EngineError({ kind: 'timeout', op: 'stop monitor', value: String(pid), reason: 'it did not exit after SIGKILL' });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
