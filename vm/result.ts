// Helpers shared by every Machine: quoting commands and describing results.
import { constants as osConstants } from 'node:os';
import { IsolabError } from '../engine/errors.js';
import { formatSeconds } from './phases.js';
import type { Machine, RunOptions, RunResult } from './types.js';

export const DEFAULT_RUN_TIMEOUT_MS = 600_000;

const signalNames = new Map<number, string>(
  Object.entries(osConstants.signals).map(([name, n]) => [n as number, name]),
);

/** Quotes one argument for a POSIX shell. */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Builds the shell command line for a run: env, working directory, then the command. */
export function commandLine(command: string | readonly string[], options: RunOptions = {}): string {
  let line = typeof command === 'string' ? command : command.map(shellQuote).join(' ');
  const env = Object.entries(options.env ?? {});
  if (env.length > 0) {
    const assignments = env.map(([key, value]) => `${key}=${shellQuote(value)}`).join(' ');
    line = `export ${assignments}; ${line}`;
  }
  if (options.cwd) line = `cd ${shellQuote(options.cwd)} && { ${line}\n}`;
  return line;
}

/** Normalizes a signal name to the SIG-prefixed form: KILL and SIGKILL give SIGKILL. */
export function signalName(signal: string): string {
  return signal.startsWith('SIG') ? signal : `SIG${signal}`;
}

/**
 * Describes why a command ended, in words. A shell reports a child killed by
 * signal N as exit status 128+N, so 137 is decoded as SIGKILL, which often
 * means the OOM killer.
 */
export function describeResult(result: RunResult): string {
  if (result.timedOut) return `timed out after ${formatSeconds(result.durationMs)}`;
  if (result.signal) return `killed by ${result.signal}${oomHint(result.signal)}`;
  const code = result.exitCode ?? -1;
  if (code > 128 && code < 160) {
    const name = signalNames.get(code - 128);
    if (name) return `exited with ${code} (${name}${oomHint(name)})`;
  }
  return `exited with ${code}`;
}

function oomHint(signal: string): string {
  return signal === 'SIGKILL' ? ', often the OOM killer' : '';
}

/** Returns the exit status that a shell would report for a result. */
export function exitStatusOf(result: RunResult): number {
  if (result.exitCode !== null) return result.exitCode;
  if (result.timedOut) return 124;
  const number = result.signal ? osConstants.signals[result.signal as NodeJS.Signals] : undefined;
  return 128 + (number ?? 1);
}

/** Throws unless attack scenarios may run on the machine. */
export function requireAttacksAllowed(machine: Machine, scenario: string): void {
  if (machine.attacksAllowed) return;
  throw new IsolabError({
    kind: 'invalid-input',
    op: `run attack \`${scenario}\` on machine`,
    value: machine.name,
    reason: `the ${machine.target} target is not disposable; pass --allow-attacks to run attacks on it`,
  });
}
