// Drives the native helper (native/build/isolab-runtime) over its fd-3
// line protocol; native/PROTOCOL.md describes the messages.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Duplex } from 'node:stream';
import { IsolabError, type ErrorKind } from './errors.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Returns the helper binary's path: $ISOLAB_RUNTIME, or native/build beside the sources. */
export function helperPath(): string {
  if (process.env.ISOLAB_RUNTIME) return process.env.ISOLAB_RUNTIME;
  // Compiled code runs from dist/engine, sources from engine/.
  for (const candidate of ['../native/build/isolab-runtime', '../../native/build/isolab-runtime']) {
    const file = path.resolve(here, candidate);
    if (existsSync(file)) return file;
  }
  throw new IsolabError({
    kind: 'not-found',
    op: 'find the native helper',
    value: 'native/build/isolab-runtime',
    reason: 'run `make -C native` (npm install does it)',
  });
}

/** One message from the helper, split into its TAB-separated fields. */
export type HelperMessage = string[];

/** A running helper with a line reader on its fd 3. */
export class HelperSession {
  readonly child: ChildProcess;
  private readonly channel: Duplex;
  private buffer = '';
  private readonly queue: HelperMessage[] = [];
  private waiter: ((message: HelperMessage | undefined) => void) | undefined;
  private closed = false;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(mode: 'create' | 'exec', planFile: string, stdio: StdioOptions | undefined) {
    const base = Array.isArray(stdio) ? stdio.slice(0, 3) : [stdio ?? 'ignore', stdio ?? 'ignore', stdio ?? 'ignore'];
    this.child = spawn(helperPath(), [mode, planFile], { stdio: [...base, 'pipe'] as StdioOptions });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    this.channel = this.child.stdio[3] as Duplex;
    this.channel.setEncoding('utf8');
    this.channel.on('data', (chunk: string) => this.onData(chunk));
    this.channel.on('close', () => this.onClose());
    this.channel.on('error', () => this.onClose());
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      this.push(line.split('\t').map(unescapeField));
    }
  }

  private push(message: HelperMessage | undefined): void {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter(message);
    } else if (message) {
      this.queue.push(message);
    }
  }

  private onClose(): void {
    this.closed = true;
    this.push(undefined);
  }

  /** Waits for the next message; undefined means the helper closed fd 3. */
  next(timeoutMs: number, what: string): Promise<HelperMessage | undefined> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new IsolabError({ kind: 'timeout', op: `wait for ${what} from the native helper`, reason: `no message in ${timeoutMs} ms` }));
      }, timeoutMs);
      this.waiter = (message) => {
        clearTimeout(timer);
        resolve(message);
      };
    });
  }

  /** Waits for a message of the given type and fails with the helper's error otherwise. */
  async expect(type: string, timeoutMs: number, context: string): Promise<HelperMessage> {
    const message = await this.next(timeoutMs, type);
    if (message && message[0] === type) return message;
    throw await this.failure(message, context);
  }

  /** Sends one message on fd 3. */
  send(...fields: string[]): void {
    this.channel.write(`${fields.map(escapeField).join('\t')}\n`);
  }

  /** Closes fd 3 and lets Node exit while the helper keeps running. */
  detach(): void {
    this.channel.destroy();
    this.child.unref();
  }

  private async failure(message: HelperMessage | undefined, context: string): Promise<IsolabError> {
    if (message && message[0] === 'error') return helperError(message, context);
    const exit = await Promise.race([this.exited, new Promise((r) => setTimeout(r, 2000, undefined))]);
    const how = exit ? JSON.stringify(exit) : 'still running';
    return new IsolabError({
      kind: 'system',
      op: context,
      reason: message ? `unexpected message from the native helper: ${message.join(' ')}` : `the native helper stopped (${how})`,
    });
  }
}

/** Turns an `error STEP PATH ERRNO DETAIL` message into an IsolabError. */
export function helperError(message: HelperMessage, context: string): IsolabError {
  const [, step = '?', value = '', errnoText = '0', detail = ''] = message;
  const errno = Number(errnoText) || undefined;
  let kind: ErrorKind = 'system';
  if (errno === 2) kind = 'not-found';
  else if (step === 'plan') kind = 'invalid-input';
  return new IsolabError({
    kind,
    op: `${context}: ${step}`,
    value: value && value !== '-' ? value : undefined,
    reason: detail || undefined,
    errno,
  });
}

/** Escapes a protocol field: backslash, TAB and newline. */
export function escapeField(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
}

function unescapeField(value: string): string {
  const escapes: Record<string, string> = { t: '\t', n: '\n', '\\': '\\' };
  return value.replace(/\\([\\tn])/g, (_, c: string) => escapes[c]);
}
