// A Machine over one SSH connection. The qemu target adds a guard that turns a
// hung or crashed guest into the failure of the command that was running.
import type { Client } from 'ssh2';
import { readKernelFacts } from './facts.js';
import { commandLine, DEFAULT_RUN_TIMEOUT_MS } from './result.js';
import { execChannel, sftpCopy, type ChannelResult } from './ssh-session.js';
import type { KernelFacts, KernelWarning, Machine, RunOptions, RunResult, TargetKind } from './types.js';

/** Hooks a target adds to an SSH machine: failure detection, warnings, facts and teardown. */
export interface MachineGuard {
  /** Rejects when the machine fails (hung, crashed); never resolves otherwise. */
  failure?: Promise<never>;
  /** Counts the kernel warnings seen so far, to find the ones seen during a run. */
  warningCount?: () => number;
  warningsSince?: (count: number) => KernelWarning[];
  /** Called when any SSH response arrives, as a sign that the guest is alive. */
  onResponse?: () => void;
  /** Adds target facts (package, accel) to the facts read from the kernel. */
  extendFacts?: (facts: KernelFacts) => KernelFacts;
  /** Tears the machine down after the connection is closed. */
  destroy?: () => Promise<void>;
}

const GUARD_GRACE_MS = 3000;

function endReason(result: ChannelResult): RunResult['reason'] {
  if (result.timedOut) return 'timeout';
  return result.signal ? 'signal' : 'exit';
}

export interface SshMachineInfo {
  name: string;
  target: TargetKind;
  disposable: boolean;
  attacksAllowed: boolean;
  workDir: string;
}

export class SshMachine implements Machine {
  readonly name: string;
  readonly target: TargetKind;
  readonly disposable: boolean;
  readonly attacksAllowed: boolean;
  readonly workDir: string;
  private facts: KernelFacts | undefined;
  private closed = false;

  constructor(
    private readonly client: Client,
    info: SshMachineInfo,
    private readonly guard: MachineGuard = {},
  ) {
    this.name = info.name;
    this.target = info.target;
    this.disposable = info.disposable;
    this.attacksAllowed = info.attacksAllowed;
    this.workDir = info.workDir;
  }

  async run(command: string | readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const line = commandLine(command, options);
    const started = Date.now();
    const mark = this.guard.warningCount?.() ?? 0;
    const channel = execChannel(this.client, this.name, line, {
      ...options,
      timeoutMs: options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS,
      onStdout: (chunk) => {
        this.guard.onResponse?.();
        options.onStdout?.(chunk);
      },
      onStderr: (chunk) => {
        this.guard.onResponse?.();
        options.onStderr?.(chunk);
      },
    });
    const result = await this.guarded(channel);
    this.guard.onResponse?.();
    return {
      command: line,
      reason: endReason(result),
      ...result,
      durationMs: Date.now() - started,
      warnings: this.guard.warningsSince?.(mark) ?? [],
    };
  }

  copyIn(localPath: string, remotePath: string): Promise<void> {
    return this.guarded(sftpCopy(this.client, 'in', localPath, remotePath));
  }

  copyOut(remotePath: string, localPath: string): Promise<void> {
    return this.guarded(sftpCopy(this.client, 'out', localPath, remotePath));
  }

  async kernelFacts(): Promise<KernelFacts> {
    this.facts ??= await readKernelFacts(this);
    return this.guard.extendFacts ? this.guard.extendFacts(this.facts) : this.facts;
  }

  async shutdown(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.client.end();
    }
    await this.guard.destroy?.();
  }

  /** Races work against the guard's failure, so a crash fails the work with its log excerpt. */
  private async guarded<T extends ChannelResult | void>(work: Promise<T>): Promise<T> {
    const failure = this.guard.failure;
    if (!failure) return work;
    // The losing promise must not become an unhandled rejection.
    work.catch(() => undefined);
    try {
      return await Promise.race([work, failure]);
    } catch (err) {
      // A crashing guest drops the connection before the watchdog has read the
      // whole panic from the console, so wait a moment for its verdict.
      const verdict = await Promise.race([
        failure.catch((guardError: unknown) => guardError),
        new Promise((resolve) => setTimeout(resolve, GUARD_GRACE_MS).unref()),
      ]);
      throw verdict ?? err;
    }
  }
}
