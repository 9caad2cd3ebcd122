// Bounded waits and sampling: counters are polled until they settle (equal
// reads in a row, or a bound), never read once, and a sampler records
// Series at an interval while a phase's work runs.
import type { Series } from './types.js';

/** Resolves after ms milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface PollOptions {
  /** Upper bound of the whole wait, in ms. */
  timeoutMs: number;
  /** Pause between reads, in ms (default 50). */
  intervalMs?: number;
}

/** The last value read and whether the condition held before the bound. */
export interface PollResult<T> {
  value: T;
  /** True when the condition held (or the value settled) before timeoutMs. */
  met: boolean;
  reads: number;
  elapsedMs: number;
}

/** Reads until `done(value)` is true or timeoutMs passes; at least one read. */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  options: PollOptions,
): Promise<PollResult<T>> {
  const started = performance.now();
  const interval = options.intervalMs ?? 50;
  for (let reads = 1; ; reads++) {
    const value = await read();
    const elapsedMs = performance.now() - started;
    if (done(value)) return { value, met: true, reads, elapsedMs };
    if (elapsedMs >= options.timeoutMs) return { value, met: false, reads, elapsedMs };
    await sleep(Math.min(interval, Math.max(0, options.timeoutMs - elapsedMs)));
  }
}

export interface SettleOptions extends PollOptions {
  /** Equal reads in a row that count as settled (default 2). */
  stableReads?: number;
  /** Equality of two reads (default: JSON equality). */
  equal?: (a: unknown, b: unknown) => boolean;
}

/**
 * Reads until `stableReads` reads in a row are equal, or timeoutMs passes.
 * Kernel counters (memory.events, pids.events, memory.stat) are updated
 * asynchronously to the work that moves them, so one read may be stale.
 */
export async function pollUntilSettled<T>(
  read: () => Promise<T>,
  options: SettleOptions,
): Promise<PollResult<T>> {
  const stable = options.stableReads ?? 2;
  const equal = options.equal ?? ((a, b) => JSON.stringify(a) === JSON.stringify(b));
  let previous: T | undefined;
  let run = 0;
  return pollUntil(read, (value) => {
    run = run > 0 && equal(previous, value) ? run + 1 : 1;
    previous = value;
    return run >= stable;
  }, options);
}

/** A probe read at every tick; undefined skips the sample (the file is gone). */
export type Probe = () => Promise<number | undefined>;

/**
 * Collects one Series per probe at an interval, with times in ms since
 * `origin` (a performance.now() value, normally the phase's start). A probe
 * that throws records nothing for that tick; reads never overlap, so a slow
 * read under TCG stretches the interval instead of piling up.
 */
export class Sampler {
  readonly samples: Record<string, Series> = {};
  private readonly probes: Array<[string, Probe]> = [];
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly origin: number, private readonly intervalMs = 100) {}

  /** Adds a probe whose values go to samples[name]. */
  add(name: string, probe: Probe): this {
    this.probes.push([name, probe]);
    this.samples[name] ??= [];
    return this;
  }

  /** Starts sampling; the first tick is immediate. */
  start(): this {
    this.stopped = false;
    this.running ??= this.loop();
    return this;
  }

  /** Takes one last sample, stops and returns the samples. */
  async stop(): Promise<Record<string, Series>> {
    this.stopped = true;
    await this.running;
    this.running = undefined;
    await this.tick();
    return this.samples;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      await this.tick();
      if (!this.stopped) await sleep(this.intervalMs);
    }
  }

  private async tick(): Promise<void> {
    const t = Math.round(performance.now() - this.origin);
    await Promise.all(this.probes.map(async ([name, probe]) => {
      const value = await probe().catch(() => undefined);
      if (value !== undefined && Number.isFinite(value)) this.samples[name].push([t, value]);
    }));
  }
}

/** Runs work with the sampler running and stops it afterwards, also on error. */
export async function sampleDuring<T>(sampler: Sampler, work: () => Promise<T>): Promise<T> {
  sampler.start();
  try {
    return await work();
  } finally {
    await sampler.stop();
  }
}

/** Returns the maximum value of a series, or undefined when it is empty. */
export function seriesMax(series: Series): number | undefined {
  return series.length ? Math.max(...series.map(([, v]) => v)) : undefined;
}

/** Returns the value at quantile q (0..1) of the values, by nearest rank; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}
