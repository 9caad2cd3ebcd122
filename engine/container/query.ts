import { promises as fs } from 'node:fs';
import { isAlive, type StateStore, type ContainerRecord } from '../state.js';
import type { NetworkState } from '../network/index.js';
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
  network?: NetworkState;
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
    network: record.network,
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
  /** Interface counters of the container's network namespace, by interface name. */
  interfaces?: Record<string, InterfaceCounters>;
}

/** Counters of one interface, from /proc/PID/net/dev. */
export interface InterfaceCounters { rxBytes: number; rxPackets: number; txBytes: number; txPackets: number }

/** Returns a container's usage from the kernel's cgroup files. */
export async function statsOf(store: StateStore, id: string): Promise<ContainerStats> {
  const record = await store.read(id);
  const cgroup = await openCgroup(record.cgroupPath);
  const stats: ContainerStats = { id, time: new Date().toISOString(), cgroup: await cgroup.stats() };
  if (isAlive(record.pid, record.pidStartTime)) stats.interfaces = await interfaceCounters(record.pid);
  return stats;
}

/** Reads /proc/PID/net/dev, which shows the network namespace of that process. */
async function interfaceCounters(pid: number): Promise<Record<string, InterfaceCounters> | undefined> {
  const text = await fs.readFile(`/proc/${pid}/net/dev`, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const counters: Record<string, InterfaceCounters> = {};
  for (const line of text.split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    if (!rest) continue;
    const f = rest.trim().split(/\s+/).map(Number);
    counters[name.trim()] = { rxBytes: f[0], rxPackets: f[1], txBytes: f[8], txPackets: f[9] };
  }
  return counters;
}
