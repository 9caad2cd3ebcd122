// One SSH connection through ssh2: commands run as exec channels, files move
// through SFTP. Used by the ssh target and by qemu machines.
import { randomBytes } from 'node:crypto';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { IsolabError } from '../engine/errors.js';
import { signalName } from './result.js';
import type { RunOptions } from './types.js';

export interface SshEndpoint {
  host: string;
  port: number;
  username: string;
  privateKey: Buffer;
  /** The server's public key in SSH wire format; when set, any other key is rejected. */
  hostKey?: Buffer;
}

/** The outcome of one command on an exec channel. */
export interface ChannelResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

/** Opens a connection and authenticates; fails with a IsolabError naming host:port. */
export function connectSsh(
  endpoint: SshEndpoint,
  timeoutMs: number,
  onHandshake?: () => void,
): Promise<Client> {
  const address = `${endpoint.host}:${endpoint.port}`;
  return new Promise((resolve, reject) => {
    const client = new Client();
    let settled = false;
    // ssh2 can emit several errors for one failed attempt, such as a timeout and
    // then the lost connection. The first one rejects, and the listener stays
    // so that a later one is not an unhandled 'error' event.
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(connectError(address, err, timeoutMs));
    });
    client.once('ready', () => {
      settled = true;
      resolve(client);
    });
    client.once('handshake', () => onHandshake?.());
    const config: ConnectConfig = {
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.username,
      privateKey: endpoint.privateKey,
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => endpoint.hostKey === undefined || key.equals(endpoint.hostKey),
    };
    client.connect(config);
  });
}

function connectError(address: string, err: Error & { level?: string; code?: string }, timeoutMs: number): IsolabError {
  let reason = err.message;
  if (err.code === 'ECONNREFUSED') reason = 'connection refused (ECONNREFUSED)';
  else if (err.level === 'client-timeout') reason = `no SSH answer within ${timeoutMs / 1000} s`;
  else if (err.level === 'client-authentication') reason = 'the server rejected the key';
  else if (/host key/i.test(err.message)) reason = 'the server presented an unexpected host key';
  return new IsolabError({ kind: 'unreachable', op: 'connect over SSH to', value: address, reason, cause: err });
}

/** Runs one command on an open connection; rejects only when the connection fails. */
export function execChannel(
  client: Client,
  machine: string,
  line: string,
  options: RunOptions & { timeoutMs: number },
): Promise<ChannelResult> {
  const runId = randomBytes(8).toString('hex');
  const killOnTimeout = (): void => {
    client.exec(killScript(runId), (err, channel) => {
      if (!err) channel.resume().end();
    });
  };
  return new Promise((resolve, reject) => {
    client.exec(`export ${RUN_ID_VARIABLE}=${runId}; ${line}`, (err, channel) => {
      if (err) {
        reject(new IsolabError({ kind: 'unreachable', op: 'run a command on machine', value: machine, reason: err.message, cause: err }));
        return;
      }
      collect(channel, machine, { ...options, onTimeout: killOnTimeout }, resolve, reject);
    });
  });
}

const RUN_ID_VARIABLE = 'ISOLAB_RUN_ID';

// OpenSSH's "signal" channel request did not reach the command in the guest's
// sshd (9.2), so a timed-out command is killed by the id in its environment,
// which its children inherit.
function killScript(runId: string): string {
  return `grep -lzx '${RUN_ID_VARIABLE}=${runId}' /proc/[0-9]*/environ 2>/dev/null |
    sed 's#^/proc/\\([0-9]*\\)/environ$#\\1#' | xargs -r kill -KILL 2>/dev/null; true`;
}

function collect(
  channel: ClientChannel,
  machine: string,
  options: RunOptions & { timeoutMs: number; onTimeout: () => void },
  resolve: (result: ChannelResult) => void,
  reject: (err: IsolabError) => void,
): void {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let exitCode: number | null = null;
  let signal: string | null = null;
  let ended = false;
  let timedOut = false;
  channel.on('data', (chunk: Buffer) => {
    stdout.push(chunk);
    options.onStdout?.(chunk);
  });
  channel.stderr.on('data', (chunk: Buffer) => {
    stderr.push(chunk);
    options.onStderr?.(chunk);
  });
  channel.on('exit', (code: number | null, name?: string) => {
    ended = true;
    if (typeof code === 'number') exitCode = code;
    else if (name) signal = signalName(name);
  });
  // The result is reported even if the command outlives the kill.
  const timer = setTimeout(() => {
    timedOut = true;
    options.onTimeout();
    setTimeout(() => finish(), 10_000).unref();
  }, options.timeoutMs);
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    if (!ended && !timedOut) {
      reject(new IsolabError({ kind: 'unreachable', op: 'run a command on machine', value: machine, reason: 'the SSH connection closed before the command ended' }));
      return;
    }
    const text = (chunks: Buffer[]): string => Buffer.concat(chunks).toString('utf8');
    resolve({ exitCode: timedOut ? null : exitCode, signal: timedOut ? null : signal, timedOut, stdout: text(stdout), stderr: text(stderr) });
  };
  channel.on('close', finish);
  if (options.input !== undefined) channel.end(options.input);
  else channel.end();
}

/** Copies a file over SFTP in the given direction. */
export function sftpCopy(
  client: Client,
  direction: 'in' | 'out',
  localPath: string,
  remotePath: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    client.sftp((err, sftp) => {
      if (err) {
        reject(new IsolabError({ kind: 'unreachable', op: 'open SFTP for', value: remotePath, reason: err.message, cause: err }));
        return;
      }
      const done = (copyErr?: Error | null): void => {
        sftp.end();
        if (!copyErr) resolve();
        else reject(new IsolabError({ kind: 'system', op: `copy ${direction === 'in' ? 'to' : 'from'} the machine`, value: remotePath, reason: copyErr.message, cause: copyErr }));
      };
      if (direction === 'in') sftp.fastPut(localPath, remotePath, done);
      else sftp.fastGet(remotePath, localPath, done);
    });
  });
}
