// The local target: this machine's own kernel. It is not disposable, so attack
// scenarios need --allow-attacks.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { readKernelFacts } from './facts.js';
import { commandLine, DEFAULT_RUN_TIMEOUT_MS } from './result.js';
import type { KernelFacts, Machine, RunOptions, RunResult, Target } from './types.js';

export interface LocalOptions {
  allowAttacks?: boolean;
  /** Directory for reclaimable files and container layers (default: a new one under the OS temp dir). */
  workDir?: string;
}

export class LocalMachine implements Machine {
  readonly name = os.hostname();
  readonly target = 'local';
  readonly disposable = false;
  readonly attacksAllowed: boolean;
  private facts: KernelFacts | undefined;

  constructor(readonly workDir: string, allowAttacks: boolean, private readonly ownsWorkDir: boolean) {
    this.attacksAllowed = allowAttacks;
  }

  async run(command: string | readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const line = commandLine(command, options);
    const started = Date.now();
    const child = execa('bash', ['-c', line], {
      input: options.input,
      stdin: options.input === undefined ? 'ignore' : undefined,
      timeout: options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      reject: false,
      stripFinalNewline: false,
    });
    child.stdout?.on('data', (chunk: Buffer) => options.onStdout?.(chunk));
    child.stderr?.on('data', (chunk: Buffer) => options.onStderr?.(chunk));
    const result = await child;
    const timedOut = Boolean(result.timedOut);
    const signal = timedOut ? null : (result.signal ?? null);
    let reason: RunResult['reason'] = 'exit';
    if (timedOut) reason = 'timeout';
    else if (signal) reason = 'signal';
    return {
      command: line,
      reason,
      exitCode: timedOut || signal ? null : (result.exitCode ?? null),
      signal,
      timedOut,
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? ''),
      durationMs: Date.now() - started,
      warnings: [],
    };
  }

  async copyIn(localPath: string, remotePath: string): Promise<void> {
    await fs.copyFile(localPath, remotePath);
  }

  async copyOut(remotePath: string, localPath: string): Promise<void> {
    await fs.copyFile(remotePath, localPath);
  }

  async kernelFacts(): Promise<KernelFacts> {
    this.facts ??= await readKernelFacts(this);
    return this.facts;
  }

  async shutdown(): Promise<void> {
    if (this.ownsWorkDir) await fs.rm(this.workDir, { recursive: true, force: true });
  }
}

/** This machine's own kernel; never shut down, only its work directory is removed. */
export class LocalTarget implements Target {
  readonly kind = 'local';
  readonly disposable = false;

  constructor(private readonly options: LocalOptions = {}) {}

  async start(): Promise<LocalMachine> {
    const owns = this.options.workDir === undefined;
    const workDir = this.options.workDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'isolab-work-')));
    return new LocalMachine(workDir, this.options.allowAttacks ?? false, owns);
  }
}
