// Finds QEMU processes that belong to isolab VMs, by the runtime directory on their command line.
import { promises as fs } from 'node:fs';
import { DEFAULT_RUN_DIR } from '../paths.js';

/** Names every VM a test boots, so the leak check can tell them from VMs others run on this host. */
export const TEST_VM_PREFIX = 't-';

/** Returns a fresh VM name for a test: t-<label>-<random>. */
export function testVmName(label: string): string {
  return `${TEST_VM_PREFIX}${label}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Pids and command lines of live QEMU processes of one VM, or of every test VM. */
export async function qemuProcessesOf(name?: string): Promise<string[]> {
  const needle = name === undefined ? `${DEFAULT_RUN_DIR}/${TEST_VM_PREFIX}` : `${DEFAULT_RUN_DIR}/${name}/`;
  const found: string[] = [];
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ');
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const zombie = stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
    if (!zombie && cmdline.includes('qemu-system') && cmdline.includes(needle)) found.push(`${pid} ${cmdline.slice(0, 120)}`);
  }
  return found;
}

/** Waits until no QEMU process of the VM is left, up to timeoutMs; returns what is left. */
export async function waitForNoQemu(name: string, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await qemuProcessesOf(name);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
