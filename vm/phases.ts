// Paired setup and teardown steps with per-phase timeouts. A step queues its
// teardown before it runs, so a half-built VM is still torn down.
import { IsolabError } from '../engine/errors.js';

/** Runs one phase of work on a VM and fails with the phase and VM named when it takes too long. */
export async function phase<T>(
  vm: string,
  op: string,
  name: string,
  timeoutMs: number,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new IsolabError({
        kind: 'timeout',
        op,
        value: vm,
        phase: name,
        reason: `phase \`${name}\` timed out after ${formatSeconds(timeoutMs)}`,
      });
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([work(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Formats milliseconds as seconds for messages: 1500 gives "1.5 s". */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

interface TeardownStep {
  name: string;
  undo: () => Promise<void> | void;
}

/** A stack of teardown steps, run in reverse order of setup; each runs at most once. */
export class Teardown {
  private readonly steps: TeardownStep[] = [];
  private running: Promise<Error[]> | undefined;

  constructor(
    private readonly vm: string,
    private readonly stepTimeoutMs = 30_000,
  ) {}

  /** Queues the undo of a setup step that is about to run. */
  defer(name: string, undo: () => Promise<void> | void): void {
    this.steps.push({ name, undo });
  }

  /** Runs every queued step, newest first, and returns the errors without throwing. */
  run(): Promise<Error[]> {
    this.running ??= this.runSteps();
    return this.running;
  }

  private async runSteps(): Promise<Error[]> {
    const errors: Error[] = [];
    while (this.steps.length > 0) {
      const step = this.steps.pop() as TeardownStep;
      try {
        await phase(this.vm, 'tear down vm', step.name, this.stepTimeoutMs, async () => step.undo());
      } catch (err) {
        errors.push(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return errors;
  }
}
