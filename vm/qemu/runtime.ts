// The runtime directory of each VM, /run/isolab-vm/<name>: vm.json, the QEMU
// pidfile, the serial log, the work disk and the keys. A VM is found and
// removed from here after its harness died.
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { IsolabError } from '../../engine/errors.js';
import { processExists } from '../lock.js';

/** The record of a VM, written before QEMU starts and updated once it runs. */
export interface VmRecord {
  name: string;
  dir: string;
  kernel: { name: string; packageName: string; packageVersion: string; release: string };
  cgroup: 'v1' | 'v2';
  memoryMiB: number;
  cpus: number;
  swapMiB: number;
  accel: 'kvm' | 'tcg';
  sshPort: number;
  /** The guest directory the work disk is mounted on. */
  workDir: string;
  /** The process that owns the VM and tears it down; null for a VM that outlives its command. */
  ownerPid: number | null;
  ownerStartTime: number | null;
  qemuPid: number | null;
  qemuStartTime: number | null;
  createdAt: string;
}

export type VmState = 'booting' | 'running' | 'stopped' | 'orphaned' | 'incomplete';

export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** Picks a fresh VM name: vm-<8 hex digits>. */
export function newVmName(): string {
  return `vm-${randomBytes(4).toString('hex')}`;
}

/** Throws unless name can name a VM and its directory. */
export function validateVmName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new IsolabError({
      kind: 'invalid-input',
      op: 'accept vm name',
      value: name,
      reason: 'a name is 1 to 40 characters from [a-z0-9-] and starts with a letter or digit',
    });
  }
}

/** Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), or null. */
export function processStartTime(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is the state (field 3); a zombie has exited already.
    if (fields[0] === 'Z') return null;
    return Number(fields[19]);
  } catch {
    return null;
  }
}

/** True when pid still runs the process that started at startTime. */
export function sameProcessRunning(pid: number | null, startTime: number | null): boolean {
  if (pid === null || !processExists(pid)) return false;
  const current = processStartTime(pid);
  return current !== null && (startTime === null || current === startTime);
}

export async function readRecord(dir: string): Promise<VmRecord | undefined> {
  const text = await fs.readFile(path.join(dir, 'vm.json'), 'utf8').catch(() => '');
  return text ? (JSON.parse(text) as VmRecord) : undefined;
}

export async function writeRecord(record: VmRecord): Promise<void> {
  const file = path.join(record.dir, 'vm.json');
  await fs.writeFile(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  await fs.rename(`${file}.tmp`, file);
}

/** Derives a VM's state from its record and the processes it names. */
export function vmState(record: VmRecord | undefined): VmState {
  if (!record) return 'incomplete';
  const qemuAlive = sameProcessRunning(record.qemuPid, record.qemuStartTime);
  const ownerAlive = record.ownerPid === null || sameProcessRunning(record.ownerPid, record.ownerStartTime);
  if (!ownerAlive) return 'orphaned';
  if (qemuAlive) return 'running';
  return record.qemuPid === null && record.ownerPid !== null ? 'booting' : 'stopped';
}

/** Lists the VMs under runDir with their states. */
export async function listVms(runDir: string): Promise<{ name: string; state: VmState; record?: VmRecord }[]> {
  const names = await fs.readdir(runDir).catch(() => [] as string[]);
  const vms = [];
  for (const name of names.sort()) {
    const record = await readRecord(path.join(runDir, name));
    vms.push({ name, state: vmState(record), record });
  }
  return vms;
}

/**
 * Stops QEMU by the pid in its record: SIGTERM, then SIGKILL after graceMs. The
 * start time guards against signalling a process that reused the pid.
 */
export async function stopQemu(record: VmRecord, graceMs = 3000): Promise<void> {
  const { qemuPid, qemuStartTime } = record;
  if (!sameProcessRunning(qemuPid, qemuStartTime)) return;
  process.kill(qemuPid as number, 'SIGTERM');
  if (await waitForExit(qemuPid as number, qemuStartTime, graceMs)) return;
  process.kill(qemuPid as number, 'SIGKILL');
  if (await waitForExit(qemuPid as number, qemuStartTime, 10_000)) return;
  throw new IsolabError({ kind: 'system', op: 'stop QEMU of vm', value: record.name, reason: `pid ${qemuPid} survived SIGKILL` });
}

async function waitForExit(pid: number, startTime: number | null, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!sameProcessRunning(pid, startTime)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !sameProcessRunning(pid, startTime);
}

/** Stops a VM's QEMU and removes its directory: the disk, keys, logs and record. */
export async function destroyVm(dir: string): Promise<void> {
  const record = await readRecord(dir);
  if (record) await stopQemu(record);
  // A record written before QEMU daemonized has no pid yet, but QEMU's pidfile may.
  if (!record || record.qemuPid === null) await stopByPidfile(dir);
  await fs.rm(dir, { recursive: true, force: true });
}

// A directory without vm.json may still have a QEMU whose pidfile names it;
// the command line must mention the directory before the pid is signalled.
async function stopByPidfile(dir: string): Promise<void> {
  const pid = Number(await fs.readFile(path.join(dir, 'qemu.pid'), 'utf8').catch(() => ''));
  if (!pid) return;
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes(dir)) return;
  await stopQemu({ name: path.basename(dir), qemuPid: pid, qemuStartTime: processStartTime(pid) } as VmRecord);
}

/**
 * Removes VMs whose owner died, VMs whose QEMU has stopped, and directories
 * left half-made for more than a minute. Returns the removed names with why.
 */
export async function collectGarbage(runDir: string): Promise<{ name: string; reason: string }[]> {
  const removed: { name: string; reason: string }[] = [];
  for (const vm of await listVms(runDir)) {
    const dir = path.join(runDir, vm.name);
    let reason: string | undefined;
    if (vm.state === 'orphaned') reason = `its owner (pid ${vm.record?.ownerPid}) is gone`;
    // A live owner tears down its own stopped VM, and may be reading its log.
    else if (vm.state === 'stopped' && vm.record?.ownerPid === null) reason = 'its QEMU process is gone';
    else if (vm.state === 'incomplete') {
      const stat = await fs.stat(dir).catch(() => undefined);
      if (stat && Date.now() - stat.mtimeMs > 60_000) reason = 'it was never completely made';
    }
    if (reason) {
      await destroyVm(dir);
      removed.push({ name: vm.name, reason });
    }
  }
  return removed;
}
