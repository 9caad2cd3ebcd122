// CPU shares measured over time for the cpushare scenario: cumulative
// CPU-time counters read at window edges until the share of interest settles.
import { promises as fs } from 'node:fs';
import { sleep } from '../framework/poll.js';
import type { Series } from '../framework/types.js';

/** Time for the scheduler to reach its steady state before the first window, in ms. */
export const WARMUP_MS = 3000;
/** One measuring window, in ms. */
export const WINDOW_MS = 1000;
/** Minimum windows of one measurement, because single windows under TCG vary by 0.1 and more. */
export const MIN_WINDOWS = 5;
/** Bound on the windows of one measurement. */
export const MAX_WINDOWS = 15;
/** Settled: the share since the first window moves by at most this much in one window. */
export const SETTLE_DELTA = 0.01;

/** A cumulative CPU-time counter in microseconds. */
export type Counter = () => Promise<number>;

/**
 * CPU time of one process: the first field of /proc/PID/schedstat, in ns,
 * or where the kernel lacks schedstat (CONFIG_SCHED_INFO), utime plus stime
 * of /proc/PID/stat in USER_HZ ticks of 10 ms.
 */
export function processCounter(pid: number): Counter {
  return async () => {
    const schedstat = await fs.readFile(`/proc/${pid}/schedstat`, 'utf8').catch(() => undefined);
    if (schedstat) return Number(schedstat.split(' ')[0]) / 1000;
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may contain spaces. utime is field 14.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  };
}

interface Snapshot { t: number; values: Record<string, number> }

async function snapshot(counters: Record<string, Counter>): Promise<Snapshot> {
  const values: Record<string, number> = {};
  for (const [name, counter] of Object.entries(counters)) values[name] = await counter();
  return { t: performance.now(), values };
}

/**
 * Measures each counter's share of the guest's CPU time, usage / (wall *
 * cpus), from the end of the warm-up on. It extends the span one window at a
 * time until the `focus` share over the whole span settles, and returns the
 * shares over that span. Every window's own shares go to `samples`.
 */
export async function measureShares(
  counters: Record<string, Counter>,
  focus: string,
  cpus: number,
  origin: number,
  samples: Record<string, Series>,
): Promise<Record<string, number>> {
  const sharesBetween = (from: Snapshot, to: Snapshot) => {
    const wallUsec = (to.t - from.t) * 1000;
    const shares: Record<string, number> = {};
    for (const name of Object.keys(counters)) {
      shares[name] = (to.values[name] - from.values[name]) / (wallUsec * cpus);
    }
    return shares;
  };

  await sleep(WARMUP_MS);
  const first = await snapshot(counters);
  let previous = first;
  let span: Record<string, number> = {};
  for (let windows = 1; windows <= MAX_WINDOWS; windows++) {
    await sleep(WINDOW_MS);
    const current = await snapshot(counters);
    const window = sharesBetween(previous, current);
    for (const name of Object.keys(counters)) {
      (samples[`${name}Share`] ??= []).push([Math.round(current.t - origin), window[name]]);
    }
    const before = span[focus];
    span = sharesBetween(first, current);
    previous = current;
    const settled = before !== undefined && Math.abs(span[focus] - before) <= SETTLE_DELTA;
    if (windows >= MIN_WINDOWS && settled) break;
  }
  return span;
}

