import { promises as fs } from 'node:fs';
import type { StateStore, ExitRecord } from '../state.js';
import { IsolabError } from '../errors.js';
import { createContainer, type CreateOptions } from './create.js';
import { startContainer } from './start.js';
import { deleteContainer } from './delete.js';

/** Waits until the monitor has written the container's exit record. */
export async function waitContainer(store: StateStore, id: string, timeoutMs = 0): Promise<ExitRecord> {
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
  await store.read(id);
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    const exit = await store.readExit(id);
    if (exit) return exit;
    if (!(await store.exists(id))) {
      throw new IsolabError({ kind: 'not-found', op: 'wait for container', value: id, reason: 'it was deleted' });
    }
    if (Date.now() > deadline) {
      throw new IsolabError({ kind: 'timeout', op: 'wait for container', value: id, reason: `it did not exit within ${timeoutMs} ms` });
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

export interface RunOptions extends CreateOptions {
  /** Keep the stopped container instead of deleting it (default false, as `runc run`). */
  keep?: boolean;
  /** Kill and delete the container if it runs longer than this; 0 waits forever. */
  runTimeoutMs?: number;
}

/** Creates, starts and waits for a container, then deletes it; returns its exit record. */
export async function runContainer(
  store: StateStore,
  id: string,
  bundle: string,
  options: RunOptions = {},
): Promise<ExitRecord> {
  const { session } = await createContainer(store, id, bundle, options);
  try {
    await startContainer(store, id);
    // The monitor exits right after it writes exit.json, so its exit event is
    // the cheapest wake-up; the poll covers a monitor that is not our child.
    const timeout = options.runTimeoutMs ?? 0;
    const exited = timeout > 0
      ? Promise.race([session.exited, new Promise((r) => setTimeout(r, timeout))])
      : session.exited;
    await exited;
    return await waitContainer(store, id, 1000);
  } finally {
    session.detach();
    if (!options.keep) await deleteContainer(store, id, true);
    else await fs.rm(`${store.dir(id)}/plan`, { force: true });
  }
}
