import { promises as fs } from 'node:fs';
import { isAlive, type StateStore } from '../state.js';
import { openCgroup } from '../cgroup/index.js';
import type { ControllerName } from '../cgroup/types.js';
import { deleteContainer } from './delete.js';
import { collectNetworkGarbage } from '../network/index.js';

const CONTROLLERS: ControllerName[] = ['memory', 'pids', 'cpu', 'cpuset', 'io', 'freezer'];

/** What gc removed. */
export interface GcReport {
  containers: string[];
  cgroups: string[];
  /** Ids whose address lease, veth and published-port rules were released. */
  leases: string[];
}

/**
 * Removes what a crashed engine left behind: state directories without a
 * complete record, containers whose monitor died before init exited, and
 * cgroups under the root's cgroup parent that no container of the root owns.
 */
export async function collectGarbage(store: StateStore): Promise<GcReport> {
  const parent = store.cgroupParent;
  const report: GcReport = { containers: [], cgroups: [], leases: [] };
  for (const id of await store.ids()) {
    if (await isOrphan(store, id)) {
      await deleteContainer(store, id, true);
      report.containers.push(id);
    }
  }
  const owned = new Set<string>();
  for (const id of await store.ids()) {
    if (await store.exists(id)) owned.add((await store.read(id)).cgroupPath);
  }
  for (const name of await childCgroups(parent)) {
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
  const record = await store.read(id);
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
