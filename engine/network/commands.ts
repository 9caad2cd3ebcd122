// iproute2 and nftables, driven through `ip -batch` and `nft -f` so that one
// process carries out a whole step.
import { spawn } from 'node:child_process';
import { IsolabError } from '../errors.js';

interface CommandResult { code: number; stdout: string; stderr: string }

function runWithInput(command: string, args: string[], input: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'], timeout: 10_000 });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk; });
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk; });
    child.on('error', (err: NodeJS.ErrnoException) => {
      const packages: Record<string, string> = { nft: 'nftables', nsenter: 'util-linux', ip: 'iproute2' };
      const pkg = packages[command] ?? command;
      reject(new IsolabError({
        kind: 'not-found', op: `run ${command}`, reason: `${err.message}; install the Debian package ${pkg}`,
      }));
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    if (child.stdin) {
      // A command that fails early may close its stdin before reading all of
      // it; its exit status and stderr tell what went wrong.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    }
  });
}

/** Runs `ip -batch -` on the host; throws with ip's message on failure. */
export async function ipBatch(op: string, value: string, lines: string[]): Promise<void> {
  const result = await runWithInput('ip', ['-batch', '-'], `${lines.join('\n')}\n`);
  if (result.code !== 0) throw commandError(op, value, result);
}

/** Runs `ip -batch -` inside the network namespace of pid. */
export async function ipBatchIn(pid: number, op: string, value: string, lines: string[]): Promise<void> {
  const result = await runWithInput('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-batch', '-'], `${lines.join('\n')}\n`);
  if (result.code !== 0) throw commandError(op, value, result);
}

/** Runs `ip -json ARGS` and returns the parsed output. */
export async function ipJson(args: string[]): Promise<unknown> {
  const result = await runWithInput('ip', ['-json', ...args], '');
  if (result.code !== 0) throw commandError(`run ip ${args.join(' ')}`, '', result);
  return JSON.parse(result.stdout || '[]');
}

/** Loads an nftables script (`nft -f -`). */
export async function nftApply(op: string, value: string, script: string): Promise<void> {
  const result = await runWithInput('nft', ['-f', '-'], script);
  if (result.code !== 0) throw commandError(op, value, result);
}

/** Returns the names of nftables tables as `family name`. */
export async function nftTables(): Promise<string[]> {
  const result = await runWithInput('nft', ['list', 'tables'], '');
  if (result.code !== 0) throw commandError('list nftables tables', '', result);
  return result.stdout.split('\n').filter((l) => l.startsWith('table ')).map((l) => l.slice('table '.length).trim());
}

/** Deletes an nftables table if it exists. */
export async function nftDeleteTable(family: string, name: string): Promise<void> {
  const result = await runWithInput('nft', ['delete', 'table', family, name], '');
  if (result.code !== 0 && !/No such file or directory/.test(result.stderr)) {
    throw commandError('delete nftables table', `${family} ${name}`, result);
  }
}

function commandError(op: string, value: string, result: CommandResult): IsolabError {
  const reason = result.stderr.trim().split('\n').filter(Boolean).slice(-2).join('; ') || `exit status ${result.code}`;
  return new IsolabError({ kind: 'system', op, value: value || undefined, reason });
}

/** Returns `nft list table FAMILY NAME` output, or '' when the table is gone. */
export async function nftListTable(family: string, name: string): Promise<string> {
  const result = await runWithInput('nft', ['list', 'table', family, name], '');
  return result.code === 0 ? result.stdout : '';
}
