// Command line options shared by `isolab vm run` and `isolab vm boot`.
import { parseArgs } from 'node:util';
import { IsolabError } from '../../engine/errors.js';
import { LocalTarget } from '../local.js';
import { QemuTarget } from '../qemu/target.js';
import type { QemuOptions } from '../qemu/options.js';
import { SshTarget } from '../ssh.js';
import type { Target } from '../types.js';

export const TARGET_USAGE = `  --target qemu|local|ssh  where to run (default qemu: a fresh VM)
  --kernel NAME[@VERSION]  debian-6.1 (default), debian-6.12, debian-5.10
  --cgroup v1|v2           cgroup v2 (default) or v1 hierarchies in the guest
  --memory MIB --cpus N    guest memory in MiB (default 2048) and CPUs (default 2)
  --swap MIB --disk GIB    swap file size (default 0) and sparse work disk size (default 8)
  --accel auto|kvm|tcg     auto uses KVM only after a probe boot succeeds (default auto)
  --name NAME              VM name (default vm-<random>)
  --ssh-port PORT          host port on 127.0.0.1 for the guest's sshd (default: a free one)
  --boot-timeout SECONDS   fail when SSH is not ready in time (default 300)
  --hang-timeout SECONDS   no console output and no SSH response this long means hung (default 30)
  --verbose-console        print every kernel message on the serial console
  --allow-attacks          allow attack scenarios on the local and ssh targets
  --host H --port P --user U --key FILE
                           the ssh target's address, user (default root) and private key`;

export const TARGET_OPTIONS = {
  target: { type: 'string' },
  kernel: { type: 'string' },
  cgroup: { type: 'string' },
  memory: { type: 'string' },
  cpus: { type: 'string' },
  swap: { type: 'string' },
  disk: { type: 'string' },
  accel: { type: 'string' },
  name: { type: 'string' },
  'ssh-port': { type: 'string' },
  'boot-timeout': { type: 'string' },
  'hang-timeout': { type: 'string' },
  'verbose-console': { type: 'boolean' },
  'allow-attacks': { type: 'boolean' },
  host: { type: 'string' },
  port: { type: 'string' },
  user: { type: 'string' },
  key: { type: 'string' },
  timeout: { type: 'string' },
  format: { type: 'string' },
  help: { type: 'boolean' },
} as const;

export type ParsedOptions = Record<string, string | boolean | undefined>;

/** Builds the error for a bad command line; the CLI exits with 2 for it. */
export function usageError(reason: string): IsolabError {
  return new IsolabError({ kind: 'invalid-input', op: 'parse the command line', reason });
}

/** Splits argv at `--` and parses the options before it. */
export function parseCommand(argv: string[]): { values: ParsedOptions; positionals: string[]; command: string[] } {
  const split = argv.indexOf('--');
  const own = split < 0 ? argv : argv.slice(0, split);
  const command = split < 0 ? [] : argv.slice(split + 1);
  try {
    const { values, positionals } = parseArgs({ args: own, options: TARGET_OPTIONS, allowPositionals: true, strict: true });
    return { values: values as ParsedOptions, positionals, command };
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err));
  }
}

/** Reads a positive integer option, failing with the option's name. */
export function integerOption(values: ParsedOptions, name: string, minimum = 1): number | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (typeof text !== 'string' || !Number.isInteger(value) || value < minimum) {
    throw usageError(`--${name} takes an integer of at least ${minimum}, not \`${String(text)}\``);
  }
  return value;
}

function choice<T extends string>(values: ParsedOptions, name: string, allowed: readonly T[]): T | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  if (typeof text !== 'string' || !allowed.includes(text as T)) {
    throw usageError(`--${name} takes one of ${allowed.join(', ')}, not \`${String(text)}\``);
  }
  return text as T;
}

/** Reads the qemu target's options from the parsed command line. */
export function qemuOptions(values: ParsedOptions): QemuOptions {
  const seconds = (name: string): number | undefined => {
    const value = integerOption(values, name, 0);
    return value === undefined ? undefined : value * 1000;
  };
  return {
    kernel: values.kernel as string | undefined,
    cgroup: choice(values, 'cgroup', ['v1', 'v2'] as const),
    memoryMiB: integerOption(values, 'memory', 128),
    cpus: integerOption(values, 'cpus'),
    swapMiB: integerOption(values, 'swap', 0),
    workDiskGiB: integerOption(values, 'disk'),
    accel: choice(values, 'accel', ['auto', 'kvm', 'tcg'] as const),
    name: values.name as string | undefined,
    sshPort: integerOption(values, 'ssh-port'),
    bootTimeoutMs: seconds('boot-timeout'),
    hangTimeoutMs: seconds('hang-timeout'),
    verboseConsole: values['verbose-console'] === true,
  };
}

/** Builds the target the options name. */
export function targetFromOptions(values: ParsedOptions): Target {
  const kind = choice(values, 'target', ['qemu', 'local', 'ssh'] as const) ?? 'qemu';
  const allowAttacks = values['allow-attacks'] === true;
  if (kind === 'local') return new LocalTarget({ allowAttacks });
  if (kind === 'ssh') {
    if (typeof values.host !== 'string' || typeof values.key !== 'string') {
      throw usageError('the ssh target needs --host and --key');
    }
    return new SshTarget({
      host: values.host,
      port: integerOption(values, 'port'),
      user: values.user as string | undefined,
      keyPath: values.key,
      allowAttacks,
    });
  }
  return new QemuTarget(qemuOptions(values));
}
