import type { LinuxResources } from '../spec/oci.js';
import type { StateStore } from '../state.js';
import { openCgroup } from '../cgroup/index.js';
import { assertStatus, statusOf } from './status.js';
import { validateResources } from '../spec/resources.js';

/** Changes a live container's limits; fields not given keep their values. */
export async function updateContainer(store: StateStore, id: string, resources: LinuxResources): Promise<void> {
  const lock = await store.lock(id);
  try {
    const record = await store.read(id);
    assertStatus(id, 'update', await statusOf(store, record), ['created', 'running', 'paused']);
    const cgroup = await openCgroup(record.cgroupPath);
    // The same checks as create, so bad values name their field and change nothing.
    validateResources(resources, 'resources');
    await cgroup.apply(resources);
    record.spec.linux = { ...record.spec.linux, resources: mergeResources(record.spec.linux?.resources, resources) };
    record.warnings = await cgroup.protectionWarnings();
    await store.write(record);
  } finally {
    lock.release();
  }
}

function mergeResources(old: LinuxResources | undefined, update: LinuxResources): LinuxResources {
  return {
    ...old,
    memory: { ...old?.memory, ...update.memory },
    cpu: { ...old?.cpu, ...update.cpu },
    pids: update.pids ?? old?.pids,
    blockIO: { ...old?.blockIO, ...update.blockIO },
    unified: { ...old?.unified, ...update.unified },
  } as LinuxResources;
}
