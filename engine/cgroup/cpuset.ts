// The cpuset controller: which CPUs and memory nodes the tasks may use.

import { join } from 'node:path';

import type { LinuxResources } from '../spec/oci.js';
import { readOptional, writeValue } from './files.js';
import { setField, type ControllerDirs, type ControllerOps } from './ops.js';
import type { CgroupVersion } from './types.js';
import { checkCpuList } from './validate.js';

const field = 'linux.resources.cpu';

function validate(resources: LinuxResources): void {
  const cpu = resources.cpu;
  if (cpu?.cpus !== undefined) checkCpuList(`${field}.cpus`, cpu.cpus);
  if (cpu?.mems !== undefined) checkCpuList(`${field}.mems`, cpu.mems);
}

async function apply(dirs: ControllerDirs, resources: LinuxResources): Promise<void> {
  const cpu = resources.cpu;
  if (cpu?.cpus !== undefined) {
    await setField(dirs.dir, 'cpuset.cpus', cpu.cpus.trim(), `${field}.cpus`);
  }
  if (cpu?.mems !== undefined) {
    await setField(dirs.dir, 'cpuset.mems', cpu.mems.trim(), `${field}.mems`);
  }
}

/**
 * Copies cpuset.cpus and cpuset.mems from `parentDir` into `dir` where they
 * are empty. A new v1 cpuset cgroup starts with both empty, and the kernel
 * rejects every task that joins it with ENOSPC until they are set.
 */
export async function inheritCpusetV1(parentDir: string, dir: string): Promise<void> {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    const own = await readOptional(join(dir, file));
    if (own === undefined || own !== '') continue;
    const inherited = await readOptional(join(parentDir, file));
    if (inherited) await writeValue(join(dir, file), inherited);
  }
}

function makeOps(version: CgroupVersion): ControllerOps {
  return {
    name: 'cpuset',
    version,
    requested: (resources) => resources.cpu?.cpus !== undefined
      || resources.cpu?.mems !== undefined,
    validate,
    apply,

    // CgroupStats has no cpuset part: the files hold settings, not usage.
    stats: async () => {},
  };
}

export const cpusetV1 = makeOps(1);
export const cpusetV2 = makeOps(2);
