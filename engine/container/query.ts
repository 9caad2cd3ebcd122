import type { StateStore, ContainerRecord } from '../state.js';
import { openCgroup } from '../cgroup/index.js';
import type { CgroupStats } from '../cgroup/types.js';
import { statusOf, type Status } from './status.js';

/** The OCI state of a container, with the exit status and warnings once known. */
export interface ContainerState {
  ociVersion: string;
  id: string;
  status: Status;
  pid: number;
  bundle: string;
  rootfs: string;
  created: string;
  annotations: Record<string, string>;
  cgroupPath: string;
  exitCode?: number | null;
  exitSignal?: number | null;
  oomKilled?: boolean;
  finishedAt?: string;
  warnings: string[];
}

/** Returns the state of one container. */
export async function stateOf(store: StateStore, id: string): Promise<ContainerState> {
  const record = await store.read(id);
  return describe(store, record);
}

async function describe(store: StateStore, record: ContainerRecord): Promise<ContainerState> {
  const status = await statusOf(store, record);
  const state: ContainerState = {
    ociVersion: record.ociVersion,
    id: record.id,
    status,
    pid: status === 'stopped' ? 0 : record.pid,
    bundle: record.bundle,
    rootfs: record.rootfs,
    created: record.created,
    annotations: record.annotations,
    cgroupPath: record.cgroupPath,
    warnings: record.warnings,
  };
  const exit = await store.readExit(record.id);
  if (exit) {
    state.exitCode = exit.exitCode;
    state.exitSignal = exit.signal;
    state.oomKilled = (exit.oomKills ?? 0) > 0;
    state.finishedAt = exit.finishedAt;
  }
  return state;
}

/** Returns the state of every container under the store's root. */
export async function listContainers(store: StateStore): Promise<ContainerState[]> {
  const states: ContainerState[] = [];
  for (const id of await store.ids()) {
    if (!(await store.exists(id))) continue;
    states.push(await describe(store, await store.read(id)));
  }
  return states;
}

/** Returns the host pids of the processes in a container's cgroup. */
export async function psContainer(store: StateStore, id: string): Promise<number[]> {
  const record = await store.read(id);
  return (await openCgroup(record.cgroupPath)).pids();
}

/** Usage of one container, read from its cgroup files. */
export interface ContainerStats {
  id: string;
  time: string;
  cgroup: CgroupStats;
}

/** Returns a container's usage from the kernel's cgroup files. */
export async function statsOf(store: StateStore, id: string): Promise<ContainerStats> {
  const record = await store.read(id);
  const cgroup = await openCgroup(record.cgroupPath);
  return { id, time: new Date().toISOString(), cgroup: await cgroup.stats() };
}
