// Workloads run by exec in a scenario container: output collected as it
// arrives, a wait for a line such as {"ready":true}, signals, and a bound
// after which the process gets SIGKILL.
import type { Readable } from 'node:stream';
import type { ExecOptions, ExecResult } from '../../engine/index.js';
import type { ScenarioContext } from './types.js';

/** The end of an exec'd workload, with its output. */
export interface WorkloadResult extends ExecResult {
  stdout: string;
  stderr: string;
  /** Wall time from the exec request to the process's end, in ms. */
  wallMs: number;
  /** True when the bound passed and the process was killed. */
  timedOut: boolean;
}

/** A workload started by exec, with its output as it arrives. */
export interface RunningWorkload {
  /** Host pid of the exec'd process. */
  pid: number;
  /** Resolves with the first stdout line that matches, or rejects after waitMs or at the end. */
  waitForLine(pattern: RegExp, waitMs: number): Promise<string>;
  /** Returns the standard output so far. */
  output(): string;
  /** Sends a signal to the process, unless it has ended. */
  signal(signal: NodeJS.Signals): void;
  done: Promise<WorkloadResult>;
}

/** Text of a stream as it arrives, with a wake-up for waiters on each chunk. */
class Collector {
  text = '';
  closed: Promise<void>;
  private waiters: Array<() => void> = [];

  constructor(stream: Readable | null | undefined) {
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      this.text += chunk;
      this.wake();
    });
    this.closed = stream
      ? new Promise((resolve) => stream.once('close', resolve))
      : Promise.resolve();
  }

  wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Resolves on the next chunk, on wake() or after ms. */
  next(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/**
 * Starts a workload in a running container. The process gets SIGKILL after
 * `timeoutMs` (default 60 s), so every workload is bounded.
 */
export async function startWorkload(
  ctx: ScenarioContext,
  id: string,
  args: string[],
  timeoutMs = 60_000,
  options: Pick<ExecOptions, 'cwd' | 'env'> = {},
): Promise<RunningWorkload> {
  const started = performance.now();
  const stdio: ExecOptions['stdio'] = ['ignore', 'pipe', 'pipe'];
  const handle = await ctx.engine.exec(id, args, { ...options, stdio });
  const stdout = new Collector(handle.session.child.stdout);
  const stderr = new Collector(handle.session.child.stderr);
  let ended = false;
  const signal = (name: NodeJS.Signals) => {
    if (ended) return;
    try {
      process.kill(handle.pid, name);
    } catch {
      // The process ended between the check and the signal.
    }
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    signal('SIGKILL');
  }, timeoutMs);

  const done = handle.done.then(async (result) => {
    ended = true;
    clearTimeout(timer);
    // 'exit' can come before the last output, which the pipes' close waits for.
    const drained = Promise.all([stdout.closed, stderr.closed]);
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, 5000))]);
    stdout.wake();
    const wallMs = performance.now() - started;
    return { ...result, stdout: stdout.text, stderr: stderr.text, wallMs, timedOut };
  });

  const waitForLine = (pattern: RegExp, waitMs: number) =>
    findLine(stdout, stderr, () => ended, pattern, waitMs, args);
  return { pid: handle.pid, waitForLine, output: () => stdout.text, signal, done };
}

/** Waits for a stdout line that matches, for at most waitMs or until the process ends. */
async function findLine(stdout: Collector, stderr: Collector, ended: () => boolean,
  pattern: RegExp, waitMs: number, args: string[]): Promise<string> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    const line = stdout.text.split('\n').find((l) => pattern.test(l));
    if (line !== undefined) return line;
    const left = deadline - performance.now();
    if (ended() || left <= 0) {
      const why = ended() ? 'it ended' : `none within ${waitMs} ms`;
      throw new Error(`workload \`${args.join(' ')}\` printed no line matching ${pattern} `
        + `(${why}); stderr: ${stderr.text.trim().slice(-300)}`);
    }
    await stdout.next(left);
  }
}

/** Runs a workload in a running container to its end (SIGKILL after timeoutMs). */
export async function execWorkload(
  ctx: ScenarioContext,
  id: string,
  args: string[],
  timeoutMs = 60_000,
  options: Pick<ExecOptions, 'cwd' | 'env'> = {},
): Promise<WorkloadResult> {
  return (await startWorkload(ctx, id, args, timeoutMs, options)).done;
}
