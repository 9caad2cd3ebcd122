import type { StateStore, ExitRecord } from '../state.js';
import { openCgroup } from '../cgroup/index.js';
import type { CgroupStats } from '../cgroup/types.js';

/** One entry of `isolab engine events`, in runc's shape: a type, the id and data. */
export type ContainerEvent =
  | { type: 'stats'; id: string; data: CgroupStats }
  | { type: 'oom'; id: string; data: { oomKills: number; oomEvents: number } }
  | { type: 'pids.max'; id: string; data: { count: number } }
  | { type: 'exit'; id: string; data: ExitRecord };

export interface EventOptions {
  /** How often to emit a stats event, in ms; 0 emits none. */
  statsIntervalMs?: number;
  /** How often to poll the event counters, in ms. */
  pollMs?: number;
  signal?: AbortSignal;
}

/**
 * Streams a container's events until it exits or signal aborts: OOM kills and
 * pids.max hits as the kernel's counters (memory.events, pids.events, or the
 * v1 oom_control) rise, stats at an interval, and the exit record at the end.
 */
export async function watchEvents(
  store: StateStore,
  id: string,
  emit: (event: ContainerEvent) => void,
  options: EventOptions = {},
): Promise<void> {
  const record = await store.read(id);
  const cgroup = await openCgroup(record.cgroupPath);
  const pollMs = options.pollMs ?? 100;
  let last = countersOf(await cgroup.stats().catch(() => ({})));
  let nextStats = options.statsIntervalMs ? Date.now() : Infinity;

  while (!options.signal?.aborted) {
    const exit = await store.readExit(id);
    const stats = await cgroup.stats().catch(() => undefined);
    if (stats) {
      const now = countersOf(stats);
      if (now.oomKills > last.oomKills || now.oomEvents > last.oomEvents) {
        emit({ type: 'oom', id, data: { oomKills: now.oomKills, oomEvents: now.oomEvents } });
      }
      if (now.pidsMax > last.pidsMax) emit({ type: 'pids.max', id, data: { count: now.pidsMax } });
      last = now;
      if (Date.now() >= nextStats) {
        emit({ type: 'stats', id, data: stats });
        nextStats = Date.now() + (options.statsIntervalMs ?? 0);
      }
    }
    if (exit) {
      emit({ type: 'exit', id, data: exit });
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

function countersOf(stats: CgroupStats): { oomKills: number; oomEvents: number; pidsMax: number } {
  return {
    oomKills: stats.memory?.events.oom_kill ?? 0,
    oomEvents: stats.memory?.events.oom ?? 0,
    pidsMax: stats.pids?.events.max ?? 0,
  };
}
