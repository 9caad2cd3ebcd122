import { promises as fs } from 'node:fs';
import { isAlive, type StateStore } from '../state.js';
import { openCgroup } from '../cgroup/index.js';
import type { ControllerName } from '../cgroup/types.js';
import { collectNetworkGarbage } from '../network/index.js';
import { deleteLocked } from './delete.js';

const CONTROLLERS: ControllerName[] = ['memory', 'pids', 'cpu', 'cpuset', 'io', 'freezer'];

/** The objects gc removed. */
export interface GcReport {
  containers: string[];
  cgroups: string[];
  /** Ids whose address lease, veth and published-port rules were released. */
  leases: string[];
}

/**
 * Removes what a crashed engine left behind: state directories of creates
 * that never finished, containers whose monitor died before init exited,
 * cgroups under the root's cgroup parent that no container of the root owns,
 * and their network leases. Containers whose lock another engine call holds
 * are left alone, since a create or delete is under way.
 */
export async function collectGarbage(store: StateStore): Promise<GcReport> {
  await store.checkRoot();
  const report: GcReport = { containers: [], cgroups: [], leases: [] };
  const parent = store.cgroupParent;
  // Listed before the state directories: a cgroup that a create makes after
  // this point is not a candidate, and one made before has its directory.
  const cgroupNames = await childCgroups(parent);

  for (const id of await store.ids()) {
    const lock = await store.tryLock(id);
    if (!lock) continue;
    try {
      if (await isOrphan(store, id)) {
        await deleteLocked(store, id, true);
        report.containers.push(id);
      }
    } finally {
      lock.release();
    }
  }

  const owned = new Set<string>();
  for (const id of await store.ids()) {
    const intent = await store.readIntent(id);
    if (intent) owned.add(intent.cgroupPath);
  }
  for (const name of cgroupNames) {
    const path = `${parent}/${name}`;
    if (owned.has(path)) continue;
    const cgroup = await openCgroup(path, { createdPaths: [parent, path] });
    await cgroup.killAll(10_000);
    await cgroup.destroy();
    report.cgroups.push(path);
  }
  report.leases = await collectNetworkGarbage(store, new Set(await store.ids()));
  if ((await store.ids()).length === 0) {
    // The shared parent goes once empty; rmdir fails while anything is in it.
    await (await openCgroup(parent, { createdPaths: [parent] })).destroy().catch(() => undefined);
  }
  return report;
}

async function isOrphan(store: StateStore, id: string): Promise<boolean> {
  if (!(await store.exists(id))) return true;
  const record = await store.read(id).catch(() => undefined);
  // A corrupt record is left for `delete -f`, which names what it removes.
  if (!record) return false;
  if (isAlive(record.monitorPid, record.monitorStartTime)) return false;
  // A monitor that ended normally wrote exit.json first: that is a stopped
  // container awaiting delete, not an orphan.
  return (await store.readExit(id)) === undefined;
}

async function childCgroups(parent: string): Promise<string[]> {
  const cgroup = await openCgroup(parent);
  const names = new Set<string>();
  for (const controller of CONTROLLERS) {
    const dir = cgroup.dirOf(controller);
    if (!dir) continue;
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) names.add(entry.name);
  }
  return [...names].sort();
}
