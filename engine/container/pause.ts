import type { StateStore } from '../state.js';
import { openCgroup } from '../cgroup/index.js';
import { assertStatus, statusOf } from './status.js';

/** Freezes every process of a running container. */
export async function pauseContainer(store: StateStore, id: string): Promise<void> {
  const lock = await store.lock(id);
  try {
    const record = await store.read(id);
    assertStatus(id, 'pause', await statusOf(store, record), ['running']);
    await (await openCgroup(record.cgroupPath)).freeze();
  } finally {
    lock.release();
  }
}

/** Thaws a paused container. */
export async function resumeContainer(store: StateStore, id: string): Promise<void> {
  const lock = await store.lock(id);
  try {
    const record = await store.read(id);
    assertStatus(id, 'resume', await statusOf(store, record), ['paused']);
    await (await openCgroup(record.cgroupPath)).thaw();
  } finally {
    lock.release();
  }
}
