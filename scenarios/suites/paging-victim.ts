// The paging scenario's victim: one run of the toucher workload around a
// window (alone, or while the offender runs) and what the kernel counted
// for the victim's cgroup in that window.
import { lastJsonLine } from '../framework/bundle.js';
import { startWorkload } from '../framework/workload.js';
import type { CgroupCounters } from '../framework/counters.js';
import { pollUntilSettled, type Sampler } from '../framework/poll.js';
import type { ScenarioContext } from '../framework/types.js';
import { PAGING } from './paging.js';

/** The victim's figures over one window. */
export interface TouchWindow {
  passes: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  /** Major faults of the touch loop (getrusage ru_majflt). */
  majorFaults: number;
  /** Pages refaulted in the victim's cgroup (memory.stat workingset_refault_*), or null. */
  refaults: number | null;
  /** The victim cgroup's OOM kills in the window; a toucher ended by a signal counts as one. */
  oomKills: number;
  /** The lowest sampled memory.current of the victim in the window, in bytes. */
  minMemoryCurrent: number;
  windowMs: number;
}

/** The toucher workload's JSON line. */
interface ToucherReport {
  passes: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  majorFaults: number;
  ms: number;
}

/** Sums the refault counters of memory.stat, whichever names the kernel uses; null when none. */
function refaultsOf(stat: Record<string, number>): number | null {
  if (stat.workingset_refault_anon !== undefined || stat.workingset_refault_file !== undefined) {
    return (stat.workingset_refault_anon ?? 0) + (stat.workingset_refault_file ?? 0);
  }
  return stat.workingset_refault ?? null;
}

async function settledCounters(counters: CgroupCounters) {
  const read = async () => ({
    refaults: refaultsOf(await counters.memoryStat()),
    oomKill: (await counters.memoryEvents()).oom_kill ?? 0,
  });
  return (await pollUntilSettled(read, { timeoutMs: 5000, intervalMs: 100 })).value;
}

/**
 * Starts the toucher on the victim's working set, waits until it is ready,
 * runs `during`, then stops the toucher and returns the window's figures.
 */
export async function measureVictim(
  ctx: ScenarioContext,
  id: string,
  counters: CgroupCounters,
  sampler: Sampler,
  origin: number,
  during: () => Promise<void>,
): Promise<TouchWindow> {
  // The toucher stops on SIGUSR1 at the end of the window; this only bounds it.
  const boundSeconds = 900;
  const args = ['toucher', '/data/working-set', String(PAGING.fileMiB), String(PAGING.anonMiB),
    String(boundSeconds), String(PAGING.passPauseMs)];
  const toucher = await startWorkload(ctx, id, args, (boundSeconds + 60) * 1000);
  await toucher.waitForLine(/"ready"/, 120_000);

  const before = await settledCounters(counters);
  const started = performance.now();
  let ended = started;
  try {
    await during();
  } finally {
    ended = performance.now();
    toucher.signal('SIGUSR1');
  }
  const result = await toucher.done;

  const windowMs = ended - started;
  const after = await settledCounters(counters);
  const report = lastJsonLine<ToucherReport>(result.stdout);
  const [from, to] = [started - origin, ended - origin];
  const resident = (sampler.samples.victimMemoryCurrent ?? [])
    .filter(([t]) => t >= from && t <= to).map(([, v]) => v);
  const killed = result.signal !== null ? 1 : 0;
  return {
    passes: report?.passes ?? 0,
    p50Us: report?.p50Us ?? Infinity,
    p99Us: report?.p99Us ?? Infinity,
    maxUs: report?.maxUs ?? Infinity,
    majorFaults: report?.majorFaults ?? Infinity,
    refaults: before.refaults === null || after.refaults === null
      ? null
      : after.refaults - before.refaults,
    oomKills: Math.max(after.oomKill - before.oomKill, killed),
    minMemoryCurrent: resident.length ? Math.min(...resident) : 0,
    windowMs: Math.round(windowMs),
  };
}
