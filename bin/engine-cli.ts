// `isolab engine VERB`: the container engine's command line, shaped like runc's.
import { parseArgs } from 'node:util';
import { promises as fs } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { Engine } from '../engine/index.js';
import { IsolabError, fromSystemError } from '../engine/errors.js';
import { parseJson, parseProcess } from '../engine/spec/validate.js';
import type { LinuxResources } from '../engine/spec/oci.js';
import { defaultSpec } from '../engine/spec/generate.js';
import { makeBusyboxRootfs } from '../engine/spec/rootfs.js';
import { log } from './log.js';

export const ENGINE_USAGE = `usage: isolab engine [--root DIR] VERB ...
  create -b BUNDLE [--pid-file F] [NETWORK] ID
                                        create a container; it waits for start
  start ID                              run the process of a created container
  run -b BUNDLE [--pid-file F] [--keep] [-d] [NETWORK] ID
                                        create, start, wait, delete; exits with its status;
                                        forwards signals to init, a second SIGINT kills all;
                                        -d only creates and starts
    NETWORK: --net none|bridge  --ip A.B.C.D  --publish HOSTPORT:PORT (repeatable)
             --subnet A.B.C.D/N (inside 198.18.0.0/15; only when the bridge is first made)
             These override the isolab.network, isolab.ip and isolab.publish annotations.
  exec [--env K=V] [--cwd DIR] [--user UID:GID] [--process FILE] [-d] ID CMD...
                                        run CMD in every namespace and the cgroup of ID
  kill [--all] ID [SIGNAL]              signal init, or every process with --all (default TERM)
  delete [-f] ID                        remove a container; -f kills it first
  state ID                              OCI state as JSON, with the exit status once stopped
  list [-f table|json] [-q]             all containers under --root
  ps ID                                 host pids in the container's cgroup, as JSON
  pause ID | resume ID                  freeze or thaw every process
  update ID [--resources FILE|-] [--memory BYTES] [--memory-reservation BYTES]
            [--memory-swap BYTES] [--pids-limit N] [--cpu-share N] [--cpu-quota USEC]
            [--cpu-period USEC]         change limits of a live container
  events ID [--interval SECONDS] [--stats]
                                        stream events as JSON lines (stats, oom, pids.max, exit)
  stats ID                              usage from the cgroup files, as JSON
  gc                                    remove what a crashed engine left behind
  spec [--rootfs PATH] [--userns] [-b BUNDLE]
                                        write a default config.json, as \`runc spec\`
  rootfs busybox DIR                    build a minimal busybox root filesystem
Global options: --root DIR (state directory, default /run/isolab), --verbose,
--json (log entries as JSON lines), --version; runc's --log and --log-format
are accepted and ignored.`;

function usageError(reason: string): IsolabError {
  return new IsolabError({ kind: 'invalid-input', op: 'parse the command line', reason: `${reason}; see \`isolab engine --help\`` });
}

// Signals `run` passes on to the container's init, as runc does.
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/**
 * Forwards signals to init. Init as PID 1 of a pid namespace ignores signals
 * it has no handler for, so a second SIGINT or SIGTERM kills every process
 * of the container instead.
 */
function forwardSignals(engine: Engine, id: string): void {
  let interrupts = 0;
  for (const signal of FORWARDED) {
    process.on(signal, () => {
      const fatal = signal === 'SIGINT' || signal === 'SIGTERM';
      if (fatal && ++interrupts > 1) {
        log('warn', 'container.kill', 'second interrupt: killing every process of the container', { id });
        void engine.kill(id, 'KILL', true).catch(() => undefined);
        return;
      }
      void engine.kill(id, signal).catch((err: Error) => log('warn', 'signal.forward', err.message, { id, signal }));
    });
  }
}

function unsupported(option: string, reason: string): IsolabError {
  return new IsolabError({ kind: 'unsupported', op: 'accept option', value: option, reason });
}

function requireId(positionals: string[], verb: string): string {
  const id = positionals[0];
  if (!id) throw usageError(`${verb} needs a container id`);
  return id;
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Runs one engine verb and returns the process exit code. */
export async function runEngineCommand(argv: string[], root: string): Promise<number> {
  const [verb, ...rest] = argv;
  const engine = new Engine(root);
  switch (verb) {
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(`${ENGINE_USAGE}\n`);
      return 0;
    case 'create':
    case 'run':
      return createOrRun(engine, verb, rest);
    case 'exec':
      return execCommand(engine, rest);
    case 'update':
      return updateCommand(engine, rest);
    case 'events':
      return eventsCommand(engine, rest);
    case 'list':
      return listCommand(engine, rest);
    case 'spec':
      return specCommand(rest);
    case 'rootfs':
      return rootfsCommand(rest);
    default:
      return simpleCommand(engine, verb, rest);
  }
}

async function simpleCommand(engine: Engine, verb: string, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { force: { type: 'boolean', short: 'f' }, all: { type: 'boolean', short: 'a' } },
    allowPositionals: true,
  });
  switch (verb) {
    case 'start': await engine.start(requireId(positionals, verb)); return 0;
    case 'kill': await engine.kill(requireId(positionals, verb), positionals[1] ?? 'TERM', values.all); return 0;
    case 'delete': await engine.delete(requireId(positionals, verb), values.force); return 0;
    case 'state': print(await engine.state(requireId(positionals, verb))); return 0;
    case 'ps': print(await engine.ps(requireId(positionals, verb))); return 0;
    case 'pause': await engine.pause(requireId(positionals, verb)); return 0;
    case 'resume': await engine.resume(requireId(positionals, verb)); return 0;
    case 'stats': print(await engine.stats(requireId(positionals, verb))); return 0;
    case 'gc': print(await engine.gc()); return 0;
    default: throw usageError(`unknown verb \`${verb}\``);
  }
}

async function createOrRun(engine: Engine, verb: 'create' | 'run', argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      bundle: { type: 'string', short: 'b', default: '.' },
      'pid-file': { type: 'string' },
      keep: { type: 'boolean' },
      detach: { type: 'boolean', short: 'd' },
      'console-socket': { type: 'string' },
      'no-pivot': { type: 'boolean' },
      net: { type: 'string' },
      ip: { type: 'string' },
      publish: { type: 'string', short: 'p', multiple: true },
      subnet: { type: 'string' },
    },
    allowPositionals: true,
  });
  const id = requireId(positionals, verb);
  if (values['console-socket'] !== undefined) {
    throw unsupported('--console-socket', 'terminals are not supported; set process.terminal to false');
  }
  if (values['no-pivot']) throw unsupported('--no-pivot', 'the engine always uses pivot_root');
  const network = { net: values.net, ip: values.ip, publish: values.publish, subnet: values.subnet };
  const options = { stdio: 'inherit' as const, pidFile: values['pid-file'], network };
  if (verb === 'create' || values.detach) {
    await engine.create(id, values.bundle, options);
    if (values.detach) await engine.start(id);
    log('info', 'container.created', 'container created', { id });
    return 0;
  }
  forwardSignals(engine, id);
  const exit = await engine.run(id, values.bundle, { ...options, keep: values.keep });
  return exit.exitCode ?? 128 + (exit.signal ?? 0);
}

async function execCommand(engine: Engine, argv: string[]): Promise<number> {
  const split = argv.findIndex((arg, i) => !arg.startsWith('-') && !isOptionValue(argv, i));
  if (split < 0) throw usageError('exec needs a container id and a command');
  const hasProcessFile = argv.slice(0, split).some((a) => a === '--process' || a === '-p' || a.startsWith('--process='));
  if (!hasProcessFile && argv.length <= split + 1) throw usageError('exec needs a command after the container id');
  const { values } = parseArgs({
    args: argv.slice(0, split),
    options: {
      env: { type: 'string', short: 'e', multiple: true },
      cwd: { type: 'string' },
      user: { type: 'string', short: 'u' },
      process: { type: 'string', short: 'p' },
      detach: { type: 'boolean', short: 'd' },
      tty: { type: 'boolean', short: 't' },
    },
  });
  if (values.tty) throw unsupported('--tty', 'terminals are not supported');
  const id = argv[split];
  let command = argv.slice(split + 1);
  if (command[0] === '--') command.shift();
  let user = values.user ? parseUser(values.user) : undefined;
  let cwd = values.cwd;
  let env = values.env;
  if (values.process) {
    // runc's --process: a process.json whose args, env, cwd and user are used.
    const proc = parseProcess(await readText(values.process, '--process'));
    command = proc.args;
    env = [...(proc.env ?? []), ...(env ?? [])];
    cwd = cwd ?? proc.cwd;
    user = user ?? { uid: proc.user.uid, gid: proc.user.gid };
  }
  const handle = await engine.exec(id, command, { stdio: values.detach ? 'ignore' : 'inherit', env, cwd, user });
  if (values.detach) {
    handle.session.detach();
    return 0;
  }
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => handle.session.child.kill(sig));
  const result = await handle.done;
  return result.exitCode ?? 128 + signalNumber(result.signal);
}

function isOptionValue(argv: string[], i: number): boolean {
  const prev = argv[i - 1];
  return prev !== undefined && ['--env', '-e', '--cwd', '--user', '-u', '--process', '-p'].includes(prev);
}

function parseUser(value: string): { uid: number; gid: number } {
  const match = /^(\d+)(?::(\d+))?$/.exec(value);
  if (!match) throw usageError(`--user takes UID or UID:GID, not \`${value}\``);
  return { uid: Number(match[1]), gid: Number(match[2] ?? match[1]) };
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? osConstants.signals[signal] : 0;
}

async function updateCommand(engine: Engine, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: Object.fromEntries(
      ['resources', 'memory', 'memory-reservation', 'memory-swap', 'pids-limit', 'cpu-share', 'cpu-quota', 'cpu-period']
        .map((name) => [name, { type: 'string' as const }]),
    ),
    allowPositionals: true,
  });
  const id = requireId(positionals, 'update');
  let resources: LinuxResources = {};
  if (values.resources) {
    const text = values.resources === '-' ? await readStdin() : await readText(values.resources, '--resources');
    resources = parseJson(text, values.resources === '-' ? 'standard input' : values.resources) as LinuxResources;
  }
  const num = (name: string): number | undefined => {
    const raw = values[name];
    if (raw === undefined) return undefined;
    if (typeof raw !== 'string' || !/^-?\d+$/.test(raw)) {
      throw usageError(`--${name} takes an integer, not \`${String(raw)}\`; write negative values as --${name}=-1`);
    }
    return Number(raw);
  };
  const memory = { limit: num('memory'), reservation: num('memory-reservation'), swap: num('memory-swap') };
  const cpu = { shares: num('cpu-share'), quota: num('cpu-quota'), period: num('cpu-period') };
  const pids = num('pids-limit');
  // Options given on the command line win over the file; absent ones keep its values.
  const fromFlags = { memory: dropUndefined(memory), cpu: dropUndefined(cpu) };
  if (Object.keys(fromFlags.memory).length) resources = { ...resources, memory: { ...resources.memory, ...fromFlags.memory } };
  if (Object.keys(fromFlags.cpu).length) resources = { ...resources, cpu: { ...resources.cpu, ...fromFlags.cpu } };
  if (pids !== undefined) resources = { ...resources, pids: { limit: pids } };
  await engine.update(id, resources);
  return 0;
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

async function readText(file: string, option: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    throw fromSystemError(`read ${option}`, file, err);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function eventsCommand(engine: Engine, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { interval: { type: 'string', default: '5' }, stats: { type: 'boolean' } },
    allowPositionals: true,
  });
  const id = requireId(positionals, 'events');
  if (values.stats) {
    print({ type: 'stats', id, data: (await engine.stats(id)).cgroup });
    return 0;
  }
  const seconds = Number(values.interval.replace(/s$/, ''));
  if (!(seconds >= 0)) throw usageError(`--interval takes seconds, not \`${values.interval}\``);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  await engine.events(id, (event) => process.stdout.write(`${JSON.stringify(event)}\n`), {
    statsIntervalMs: seconds * 1000,
    signal: abort.signal,
  });
  return 0;
}

async function listCommand(engine: Engine, argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { format: { type: 'string', short: 'f', default: 'table' }, quiet: { type: 'boolean', short: 'q' } },
  });
  const states = await engine.list();
  if (values.quiet) {
    for (const s of states) process.stdout.write(`${s.id}\n`);
  } else if (values.format === 'json') {
    print(states);
  } else if (values.format === 'table') {
    process.stdout.write('ID\tPID\tSTATUS\tBUNDLE\tCREATED\n');
    for (const s of states) process.stdout.write(`${s.id}\t${s.pid}\t${s.status}\t${s.bundle}\t${s.created}\n`);
  } else {
    throw usageError(`--format takes table or json, not \`${values.format}\``);
  }
  return 0;
}

async function specCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { rootfs: { type: 'string', default: 'rootfs' }, userns: { type: 'boolean' }, bundle: { type: 'string', short: 'b', default: '.' } },
    allowPositionals: true,
  });
  const file = `${values.bundle}/config.json`;
  const exists = await fs.access(file).then(() => true, () => false);
  if (exists) throw new IsolabError({ kind: 'already-exists', op: 'write spec', value: file, reason: 'the file exists' });
  const spec = defaultSpec({ rootfs: values.rootfs, userns: values.userns });
  // `isolab engine spec -- sleep 600` sets process.args; runc's default `sh`
  // exits at once without a terminal.
  if (positionals.length) spec.process!.args = positionals;
  try {
    await fs.writeFile(file, `${JSON.stringify(spec, null, 2)}\n`);
  } catch (err) {
    throw fromSystemError('write spec', file, err);
  }
  return 0;
}

async function rootfsCommand(argv: string[]): Promise<number> {
  const [kind, dir] = argv;
  if (kind !== 'busybox' || !dir) throw usageError('rootfs takes `busybox DIR`');
  await makeBusyboxRootfs(dir);
  return 0;
}
