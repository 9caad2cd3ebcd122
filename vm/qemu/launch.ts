// Prepares a VM's runtime directory and starts QEMU, queueing the teardown of
// each step before the step runs.
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { IsolabError } from '../../engine/errors.js';
import { writeInitramfsWithInit } from '../initramfs/build.js';
import type { KernelBuild } from '../kernels/store.js';
import { phase, type Teardown } from '../phases.js';
import { QEMU_BINARY, qemuArguments } from './command.js';
import { makeWorkDisk, writeKeys, writeParams, type VmKeys } from './files.js';
import { processStartTime, stopQemu, readRecord, writeRecord, type VmRecord } from './runtime.js';

export interface LaunchRequest {
  name: string;
  runDir: string;
  build: KernelBuild;
  initramfs: string;
  /** Replaces the initramfs's /init: the benchmark floor, the KVM probe, tests. */
  customInit?: string;
  accel: 'kvm' | 'tcg';
  cpus: number;
  memoryMiB: number;
  swapMiB: number;
  workDiskGiB: number;
  cgroup: 'v1' | 'v2';
  /** 0 picks a free port. */
  sshPort: number;
  /** QEMU outlives this process; gc removes it only after `isolab vm destroy`. */
  detached: boolean;
  verboseConsole: boolean;
}

export interface LaunchedVm {
  record: VmRecord;
  keys: VmKeys;
  serialLog: string;
  /** Resolves with a description once QEMU has exited. */
  exited: Promise<string>;
}

const STARTUP_SETTLE_MS = 1000;

/** The guest directory the work disk is mounted on. */
export const GUEST_WORK_DIR = '/var/lib/isolab-work';

/** Makes the runtime directory and its files, then starts QEMU and waits for its first output. */
export async function launchVm(request: LaunchRequest, teardown: Teardown): Promise<LaunchedVm> {
  const dir = path.join(request.runDir, request.name);
  const prepared = await phase(request.name, 'boot vm', 'prepare', 60_000, () => prepare(request, dir, teardown));
  teardown.defer('stop QEMU', async () => {
    const record = await readRecord(dir);
    if (record) await stopQemu(record);
  });
  const { exited } = await phase(request.name, 'boot vm', 'launch', 60_000, () => start(request, prepared));
  return { record: prepared.record, keys: prepared.keys, serialLog: path.join(dir, 'serial.log'), exited };
}

interface Prepared {
  record: VmRecord;
  keys: VmKeys;
  initrd: string;
}

async function prepare(request: LaunchRequest, dir: string, teardown: Teardown): Promise<Prepared> {
  await fs.mkdir(request.runDir, { recursive: true, mode: 0o700 });
  try {
    await fs.mkdir(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    throw new IsolabError({ kind: 'invalid-input', op: 'create vm', value: request.name, reason: 'a VM with this name exists' });
  }
  teardown.defer('remove the runtime directory', () => fs.rm(dir, { recursive: true, force: true }));

  const record: VmRecord = {
    name: request.name,
    dir,
    kernel: {
      name: request.build.name,
      packageName: request.build.packageName,
      packageVersion: request.build.packageVersion,
      release: request.build.release,
    },
    cgroup: request.cgroup,
    memoryMiB: request.memoryMiB,
    cpus: request.cpus,
    swapMiB: request.swapMiB,
    accel: request.accel,
    sshPort: request.sshPort === 0 ? await freePort() : await checkPortFree(request.sshPort),
    workDir: GUEST_WORK_DIR,
    // Even a detached VM is owned while it boots, so gc removes it if the boot dies.
    ownerPid: process.pid,
    ownerStartTime: processStartTime(process.pid),
    qemuPid: null,
    qemuStartTime: null,
    createdAt: new Date().toISOString(),
  };
  await writeRecord(record);
  const keys = await writeKeys(dir, request.name);
  await writeParams(record, request.build);
  await makeWorkDisk(dir, request.workDiskGiB);
  let initrd = request.initramfs;
  if (request.customInit !== undefined) {
    initrd = path.join(dir, 'initramfs.cpio');
    await writeInitramfsWithInit(request.initramfs, request.customInit, initrd);
  }
  return { record, keys, initrd };
}

async function start(request: LaunchRequest, prepared: Prepared): Promise<{ exited: Promise<string> }> {
  const { record } = prepared;
  const args = qemuArguments({
    dir: record.dir,
    kernelImage: request.build.vmlinux ?? request.build.vmlinuz,
    initrd: prepared.initrd,
    accel: request.accel,
    cpus: request.cpus,
    memoryMiB: request.memoryMiB,
    sshPort: record.sshPort,
    verboseConsole: request.verboseConsole,
    daemonize: request.detached,
  });
  const qemuLog = path.join(record.dir, 'qemu.log');
  const exited = request.detached ? await spawnDetached(args, qemuLog) : spawnOwned(args, qemuLog);
  const pid = await waitForPidfile(record, exited);
  record.qemuPid = pid;
  record.qemuStartTime = processStartTime(pid);
  await writeRecord(record);
  return { exited: exited ?? watchPid(pid, record.qemuStartTime) };
}

// setpriv's parent-death signal kills QEMU even when this process is killed
// with SIGKILL and cannot tear down; it survives the exec into QEMU.
function spawnOwned(args: string[], qemuLog: string): Promise<string> {
  const child = execa('setpriv', ['--pdeathsig', 'KILL', '--', QEMU_BINARY, ...args], {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: { file: qemuLog },
    reject: false,
    cleanup: false,
    buffer: false,
  });
  return child.then((result) => (result.signal ? `killed by ${result.signal}` : `exit code ${result.exitCode}`));
}

async function spawnDetached(args: string[], qemuLog: string): Promise<undefined> {
  // With -daemonize the first QEMU process exits once the VM runs; its status reports whether it started.
  const result = await execa(QEMU_BINARY, args, { stdin: 'ignore', stdout: 'ignore', stderr: { file: qemuLog }, reject: false });
  if (result.exitCode !== 0) throw await qemuFailure(path.dirname(qemuLog), `exit code ${result.exitCode}`);
  return undefined;
}

// QEMU writes its pidfile before it sets up the network, so a busy forwarded
// port makes it exit just after: wait for the guest's first output, or a moment.
async function waitForPidfile(record: VmRecord, exited: Promise<string> | undefined): Promise<number> {
  let exit: string | undefined;
  void exited?.then((description) => {
    exit = description;
  });
  let pidSeenAt: number | undefined;
  for (;;) {
    if (exit !== undefined) throw await qemuFailure(record.dir, exit);
    const pid = Number(await fs.readFile(path.join(record.dir, 'qemu.pid'), 'utf8').catch(() => ''));
    if (pid > 0) {
      pidSeenAt ??= Date.now();
      const output = await fs.stat(path.join(record.dir, 'serial.log')).then((stat) => stat.size > 0, () => false);
      if (output || Date.now() - pidSeenAt > STARTUP_SETTLE_MS) return pid;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Builds the error for a QEMU that exited at start, naming a busy forwarded port as such. */
export async function qemuFailure(dir: string, exit: string): Promise<IsolabError> {
  const log = (await fs.readFile(path.join(dir, 'qemu.log'), 'utf8').catch(() => '')).trim();
  const name = path.basename(dir);
  if (/host forwarding rule/i.test(log)) {
    return new IsolabError({ kind: 'invalid-input', op: 'boot vm', value: name, reason: `QEMU could not forward the SSH port, which is in use: ${log}` });
  }
  return new IsolabError({ kind: 'system', op: 'boot vm', value: name, reason: `QEMU exited at start (${exit}): ${log || 'no message'}` });
}

function watchPid(pid: number, startTime: number | null): Promise<string> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (processStartTime(pid) !== startTime) {
        clearInterval(timer);
        resolve('exited');
      }
    }, 500);
    timer.unref();
  });
}

/** Returns a port on 127.0.0.1 that is free now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Returns port when it is free on 127.0.0.1; fails with a clear error when it is in use. */
export function checkPortFree(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      const reason = err.code === 'EADDRINUSE' ? 'the port is in use' : err.message;
      reject(new IsolabError({ kind: 'invalid-input', op: 'forward SSH port', value: `127.0.0.1:${port}`, reason }));
    });
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(port)));
  });
}
