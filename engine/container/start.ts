import { promises as fs, constants } from 'node:fs';
import path from 'node:path';
import { IsolabError } from '../errors.js';
import { isAlive, type StateStore } from '../state.js';
import { assertStatus, statusOf } from './status.js';

/** Releases a created container's init from its exec fifo so that it execs the process. */
export async function startContainer(store: StateStore, id: string, timeoutMs = 10_000): Promise<void> {
  const lock = await store.lock(id);
  try {
    const record = await store.read(id);
    assertStatus(id, 'start', await statusOf(store, record), ['created']);
    const fifo = path.join(store.dir(id), 'exec.fifo');

    // Init is blocked in open(O_WRONLY) on the fifo. A non-blocking open for
    // reading succeeds at once and wakes it; its one byte then says it got past
    // the open. A blocking open would hang forever if init died meanwhile.
    const handle = await fs.open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const deadline = Date.now() + timeoutMs;
      const buffer = Buffer.alloc(1);
      for (let delay = 1; ; delay = Math.min(delay * 2, 10)) {
        const { bytesRead } = await handle.read(buffer, 0, 1, null).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'EAGAIN') return { bytesRead: -1 };
          throw err;
        });
        if (bytesRead === 1) break;
        if (!isAlive(record.pid, record.pidStartTime)) {
          throw new IsolabError({ kind: 'bad-state', op: 'start container', value: id, reason: 'its init exited before start' });
        }
        if (Date.now() > deadline) {
          throw new IsolabError({ kind: 'timeout', op: 'start container', value: id, reason: `init did not open its exec fifo within ${timeoutMs} ms` });
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    } finally {
      await handle.close();
    }
    await fs.rm(fifo, { force: true });
  } finally {
    lock.release();
  }
}
