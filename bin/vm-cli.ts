// `isolab vm`, `isolab kernels` and `isolab doctor`: disposable VMs on real kernels.
import path from 'node:path';
import { IsolabError } from '../engine/errors.js';
import { runChecks, type Check } from '../vm/cli/doctor.js';
import { parseCommand, qemuOptions, TARGET_USAGE, targetFromOptions, usageError, integerOption, type ParsedOptions } from '../vm/cli/options.js';
import { KERNELS, parseKernelRequest } from '../vm/kernels/catalog.js';
import { fetchKernel, listKernels } from '../vm/kernels/store.js';
import { DEFAULT_CACHE_DIR, DEFAULT_RUN_DIR } from '../vm/paths.js';
import { readKeys } from '../vm/qemu/files.js';
import { collectGarbage, destroyVm, listVms, readRecord, validateVmName } from '../vm/qemu/runtime.js';
import { QemuTarget } from '../vm/qemu/target.js';
import { describeResult, exitStatusOf } from '../vm/result.js';
import { SshMachine } from '../vm/ssh-machine.js';
import { connectSsh } from '../vm/ssh-session.js';
import type { Machine, RunResult } from '../vm/types.js';
import { log } from './log.js';

export const VM_USAGE = `usage: isolab vm VERB ...
  run [OPTIONS] -- CMD...   boot a fresh VM, run CMD, print its output, destroy the VM;
                            exits with CMD's status
  boot [OPTIONS]            boot a VM that lives across commands; prints its name
  exec NAME [--timeout S] -- CMD...
                            run CMD in a booted VM
  list [--format table|json]
  destroy NAME...           stop a VM and remove its disk, keys and logs
  gc                        remove VMs whose harness died or whose QEMU stopped
OPTIONS:
${TARGET_USAGE}
  --timeout SECONDS        kill CMD after this many seconds (default 600)`;

export const KERNELS_USAGE = `usage: isolab kernels list [--format table|json]
       isolab kernels fetch [NAME...]   resolve and cache the current package (default: every kernel)
known kernels: ${KERNELS.map((kernel) => `${kernel.name} (${kernel.suite})`).join(', ')}`;

/** Runs `isolab vm VERB` and returns the exit status. */
export async function runVmCommand(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  return guard(async () => {
    const { values, positionals, command } = parseCommand(rest);
    switch (verb) {
      case 'run':
        return runCommand(values, command);
      case 'boot':
        return bootCommand(values);
      case 'exec':
        return execCommand(values, positionals, command);
      case 'list':
        return listCommand(values);
      case 'destroy':
        return destroyCommand(positionals);
      case 'gc':
        return gcCommand();
      case undefined:
      case 'help':
      case '--help':
        process.stdout.write(`${VM_USAGE}\n`);
        return 0;
      default:
        throw usageError(`unknown verb \`${verb}\`; see \`isolab vm --help\``);
    }
  });
}

/** Runs `isolab kernels list|fetch` and returns the exit status. */
export async function runKernelsCommand(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  return guard(async () => {
    const { values, positionals } = parseCommand(rest);
    if (verb === 'list') return kernelsList(values);
    if (verb === 'fetch') return kernelsFetch(positionals);
    if (verb === undefined || verb === 'help' || verb === '--help') {
      process.stdout.write(`${KERNELS_USAGE}\n`);
      return 0;
    }
    throw usageError(`unknown verb \`${verb}\`; see \`isolab kernels --help\``);
  });
}

/** Runs `isolab doctor`: prints each check and what to install; 1 when a required one fails. */
export async function runDoctor(argv: string[]): Promise<number> {
  return guard(async () => {
    const { values } = parseCommand(argv);
    const checks = await runChecks(DEFAULT_CACHE_DIR, DEFAULT_RUN_DIR);
    if (values.format === 'json') process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
    else {
      for (const check of checks) process.stdout.write(`${checkStatus(check)}  ${check.name}: ${check.detail}\n`);
    }
    const missing = [...new Set(checks.filter((check) => !check.ok && check.install).map((check) => check.install))];
    if (missing.length > 0) process.stdout.write(`install: apt-get install ${missing.join(' ')}\n`);
    return checks.some((check) => !check.ok && check.required) ? 1 : 0;
  });
}

function checkStatus(check: Check): string {
  if (check.ok) return 'ok  ';
  return check.required ? 'FAIL' : 'warn';
}

async function guard(work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof IsolabError) {
      log('error', `vm.${err.kind}`, err.message, err.phase ? { phase: err.phase } : {});
      return err.op === 'parse the command line' ? 2 : 1;
    }
    throw err;
  }
}

async function runCommand(values: ParsedOptions, command: string[]): Promise<number> {
  if (command.length === 0) throw usageError('run needs a command after `--`');
  const machine = await targetFromOptions(values).start();
  try {
    log('info', 'vm.ready', `machine ${machine.name} is ready`, { target: machine.target });
    return await runStreamed(machine, command, values);
  } finally {
    await machine.shutdown();
  }
}

async function runStreamed(machine: Machine, command: string[], values: ParsedOptions): Promise<number> {
  const timeout = integerOption(values, 'timeout');
  const result = await machine.run(command.length === 1 ? command[0] : command, {
    timeoutMs: timeout === undefined ? undefined : timeout * 1000,
    onStdout: (chunk) => process.stdout.write(chunk),
    onStderr: (chunk) => process.stderr.write(chunk),
  });
  reportResult(machine, result);
  return exitStatusOf(result);
}

function reportResult(machine: Machine, result: RunResult): void {
  for (const warning of result.warnings) {
    log('warn', `vm.${warning.kind}`, `kernel warning on ${machine.name}: ${warning.line}`);
  }
  if (result.exitCode !== 0) log('info', 'vm.command-ended', `the command ${describeResult(result)}`, { machine: machine.name });
}

async function bootCommand(values: ParsedOptions): Promise<number> {
  const machine = await new QemuTarget({ ...qemuOptions(values), detached: true }).start();
  await machine.detach();
  const { record } = machine;
  const summary = { name: record.name, sshPort: record.sshPort, kernel: record.kernel, cgroup: record.cgroup, accel: record.accel };
  if (values.format === 'json') process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else process.stdout.write(`${record.name}\n`);
  log('info', 'vm.booted', `booted ${record.name}`, { sshPort: record.sshPort, bootMs: machine.timing.readyMs });
  return 0;
}

async function execCommand(values: ParsedOptions, positionals: string[], command: string[]): Promise<number> {
  const name = positionals[0];
  if (!name || command.length === 0) throw usageError('exec needs a VM name and a command after `--`');
  validateVmName(name);
  const dir = path.join(DEFAULT_RUN_DIR, name);
  const record = await readRecord(dir);
  if (!record) throw new IsolabError({ kind: 'not-found', op: 'find vm', value: name, reason: `no ${dir}/vm.json` });
  const keys = await readKeys(dir);
  const client = await connectSsh({ host: '127.0.0.1', port: record.sshPort, username: 'root', ...keys }, 20_000);
  const machine = new SshMachine(client, { name, target: 'qemu', disposable: true, attacksAllowed: true, workDir: record.workDir });
  try {
    return await runStreamed(machine, command, values);
  } finally {
    await machine.shutdown();
  }
}

async function listCommand(values: ParsedOptions): Promise<number> {
  const vms = await listVms(DEFAULT_RUN_DIR);
  if (values.format === 'json') {
    process.stdout.write(`${JSON.stringify(vms, null, 2)}\n`);
    return 0;
  }
  process.stdout.write('NAME                 STATE      KERNEL                      CGROUP  SSH PORT  QEMU PID\n');
  for (const vm of vms) {
    const record = vm.record;
    const kernel = record ? `${record.kernel.name}@${record.kernel.packageVersion}` : '-';
    const columns = [vm.name.padEnd(20), vm.state.padEnd(10), kernel.padEnd(27), (record?.cgroup ?? '-').padEnd(7),
      String(record?.sshPort ?? '-').padEnd(9), String(record?.qemuPid ?? '-')];
    process.stdout.write(`${columns.join(' ')}\n`);
  }
  return 0;
}

async function destroyCommand(names: string[]): Promise<number> {
  if (names.length === 0) throw usageError('destroy needs at least one VM name');
  for (const name of names) {
    validateVmName(name);
    await destroyVm(path.join(DEFAULT_RUN_DIR, name));
    log('info', 'vm.destroyed', `destroyed ${name}`);
  }
  return 0;
}

async function gcCommand(): Promise<number> {
  for (const removed of await collectGarbage(DEFAULT_RUN_DIR)) {
    process.stdout.write(`removed ${removed.name}: ${removed.reason}\n`);
  }
  return 0;
}

async function kernelsList(values: ParsedOptions): Promise<number> {
  const kernels = await listKernels(DEFAULT_CACHE_DIR);
  if (values.format === 'json') {
    process.stdout.write(`${JSON.stringify(kernels, null, 2)}\n`);
    return 0;
  }
  for (const { spec, builds } of kernels) {
    const cached = builds.map((build) => `${build.packageVersion} (${build.release})`).join(', ') || 'not cached';
    process.stdout.write(`${spec.name.padEnd(12)} ${spec.suite.padEnd(9)} ${cached}\n`);
  }
  return 0;
}

async function kernelsFetch(names: string[]): Promise<number> {
  const specs = names.length > 0 ? names.map((name) => parseKernelRequest(name).spec) : KERNELS;
  for (const spec of specs) {
    const build = await fetchKernel(DEFAULT_CACHE_DIR, spec);
    process.stdout.write(`${spec.name} ${build.packageName} ${build.packageVersion} ${build.release}\n`);
  }
  return 0;
}
