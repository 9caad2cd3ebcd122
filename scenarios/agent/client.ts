// The host side of the agent: one exec channel over SSH (or a local child
// process) that carries JSON-line requests and responses.
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Duplex, Readable, Writable } from 'node:stream';
import type { Client } from 'ssh2';
import type { Phase, PhaseResult, TargetFacts } from '../framework/types.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Returns the agent's entry point: the compiled file, at the same path in the guest over 9p. */
export function agentEntry(): string {
  const compiled = here.includes(`${path.sep}dist${path.sep}`) ? here : path.resolve(here, '../../dist/scenarios/agent');
  return path.join(compiled, 'main.js');
}

interface Pending { resolve: (value: unknown) => void; reject: (err: Error) => void }

/** A connection to a running agent. */
export class AgentClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedError: Error | undefined;

  constructor(
    private readonly input: Writable,
    output: Readable,
    private readonly onLog: (text: string) => void,
    private readonly close: () => void,
  ) {
    const lines = readline.createInterface({ input: output });
    lines.on('line', (line) => this.onLine(line));
    lines.on('close', () => this.failAll(new Error('the agent closed its output')));
  }

  private onLine(line: string): void {
    let message: { id?: number; result?: unknown; error?: string; log?: string };
    try {
      message = JSON.parse(line);
    } catch {
      this.onLog(line);
      return;
    }
    if (message.log !== undefined) {
      this.onLog(message.log);
      return;
    }
    const pending = message.id === undefined ? undefined : this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id!);
    if (message.error !== undefined) pending.reject(new Error(message.error));
    else pending.resolve(message.result);
  }

  private failAll(err: Error): void {
    this.closedError = err;
    for (const pending of this.pending.values()) pending.reject(err);
    this.pending.clear();
  }

  /** Sends a request and waits for its response, at most timeoutMs. */
  request<T>(method: string, params: Record<string, unknown> = {}, timeoutMs = 300_000): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`agent request ${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (value) => { clearTimeout(timer); resolve(value as T); },
        reject: (err) => { clearTimeout(timer); reject(err); },
      });
      this.input.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  prepare(): Promise<TargetFacts> {
    return this.request<TargetFacts>('prepare', {}, 600_000);
  }

  run(scenario: string, phase: Phase, timeoutMs: number): Promise<PhaseResult> {
    return this.request<PhaseResult>('run', { scenario, phase }, timeoutMs);
  }

  /** Ends the agent: it deletes its containers when its input closes. */
  async shutdown(): Promise<void> {
    await this.request('cleanup', {}, 60_000).catch(() => undefined);
    this.input.end();
    this.close();
  }
}

/**
 * The host root as a qemu guest mounts it over 9p. The guest's own /tmp is a
 * tmpfs, so a checkout under /tmp (as a CI clone may be) is reached here.
 */
export const GUEST_HOST_ROOT = '/run/isolab/host';

/** Returns the agent's command line: state root, work dir, and whether to protect the harness. */
export function agentCommand(stateRoot: string, workDir: string, protect: boolean, hostRoot = ''): string[] {
  return ['node', `${hostRoot}${agentEntry()}`, stateRoot, workDir, ...(protect ? ['--protect'] : [])];
}

/** Starts the agent on a machine reached by an ssh2 client. */
export function startAgentOverSsh(client: Client, command: string[], onLog: (text: string) => void): Promise<AgentClient> {
  return new Promise((resolve, reject) => {
    client.exec(command.map(shellQuote).join(' '), (err, channel) => {
      if (err) {
        reject(err);
        return;
      }
      channel.stderr.on('data', (chunk: Buffer) => onLog(chunk.toString('utf8').trimEnd()));
      resolve(new AgentClient(channel as unknown as Duplex, channel, onLog, () => channel.close()));
    });
  });
}

/** Starts the agent as a child process on this machine (the local target). */
export function startLocalAgent(command: string[], onLog: (text: string) => void): AgentClient {
  const [program, ...args] = command;
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.on('data', (chunk: Buffer) => onLog(chunk.toString('utf8').trimEnd()));
  return new AgentClient(child.stdin, child.stdout, onLog, () => child.kill('SIGTERM'));
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./=:-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
