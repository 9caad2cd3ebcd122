// Scenario targets as Playwright projects: one project per kernel and cgroup
// version. A setup project boots the project's VM and leaves it running, so a
// worker that restarts after a failure reconnects instead of rebooting; a
// teardown project destroys it.
import path from 'node:path';
import { DEFAULT_RUN_DIR } from '../../vm/paths.js';
import { connectSsh } from '../../vm/ssh-session.js';
import { readKeys } from '../../vm/qemu/files.js';
import { readRecord, type VmRecord } from '../../vm/qemu/runtime.js';
import type { Client } from 'ssh2';

/** Options a scenario project sets in its `use` block. */
export interface TargetOptions {
  vmKernel: string;
  vmCgroup: 'v1' | 'v2';
}

/** VM size for the scenarios: small enough for TCG, with swap for the paging scenario. */
export const SCENARIO_VM = {
  memoryMiB: 1024,
  cpus: 2,
  swapMiB: 256,
  workDiskGiB: 4,
  // TCG on a busy 2-core host can leave the console and SSH quiet for a
  // minute without the kernel being hung.
  hangTimeoutMs: 120_000,
  bootTimeoutMs: 600_000,
};

/** Returns the VM name of a project: `pw-` and the project name in [a-z0-9-]. */
export function vmNameOf(project: string): string {
  return `pw-${project.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 40);
}

/** Returns a project's VM record, or throws naming the setup project to run. */
export async function projectVm(project: string): Promise<VmRecord> {
  const name = vmNameOf(project);
  const record = await readRecord(path.join(DEFAULT_RUN_DIR, name));
  if (!record) {
    throw new Error(`VM ${name} is not running; the project ${project}-setup boots it`);
  }
  return record;
}

/** Opens an SSH connection to a project's VM. */
export async function connectProjectVm(record: VmRecord): Promise<Client> {
  const keys = await readKeys(path.join(DEFAULT_RUN_DIR, record.name));
  return connectSsh({ host: '127.0.0.1', port: record.sshPort, username: 'root', ...keys }, 30_000);
}
