// A cgroup's CPU time read straight from the kernel's file: cpu.stat on v2,
// cpuacct.usage on v1. The engine's stats read the same file among dozens of
// others, which costs too much for a sampler under TCG.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { detectLayout, openCgroup } from '../../engine/cgroup/index.js';
import { v1MountOf } from '../../engine/cgroup/mounts.js';

/**
 * Returns a reader of the CPU time, in microseconds, of the cgroup at
 * `cgroupPath` (relative to each hierarchy's root, as in
 * ContainerState.cgroupPath). The reader throws on cgroup v1 without a
 * cpuacct hierarchy, which is the only v1 source of CPU usage.
 */
export async function cpuUsageReader(cgroupPath: string): Promise<() => Promise<number>> {
  const cgroup = await openCgroup(cgroupPath);
  // cpu.stat is a core file of every v2 cgroup, so it is there even where
  // the cpu controller is not enabled.
  const version = cgroup.controllers.get('cpu');
  let statDir: string | undefined;
  if (version === 2) statDir = cgroup.dirOf('cpu');
  else if (version === undefined) statDir = cgroup.v2Dir();
  if (statDir) return () => readUsageUsec(path.join(statDir, 'cpu.stat'));

  const cpuacct = v1MountOf(await detectLayout(), 'cpuacct');
  const file = cpuacct ? path.join(cpuacct, cgroupPath, 'cpuacct.usage') : undefined;
  return async () => {
    if (!file) throw new Error('cgroup v1 has no cpuacct hierarchy, so no CPU usage');
    return readNanoseconds(file);
  };
}

/**
 * Returns a reader of the CPU time the machine's tasks used, in
 * microseconds, or undefined when the kernel offers no exact source. On v1
 * it is the root's cpuacct.usage, which covers every task. On v2 it is the
 * sum of cpu.stat over the root's child cgroups, because the root's own
 * cpu.stat is built from tick-sampled kernel counters.
 * NOTE: on v2 this leaves out tasks in the root cgroup itself, such as
 * kernel threads and processes never moved into a child cgroup.
 */
export async function machineCpuUsageReader(): Promise<(() => Promise<number>) | undefined> {
  const layout = await detectLayout();
  const cpuOnV2 = layout.controllers.get('cpu') === 2 || !layout.controllers.has('cpu');
  const unified = layout.unified?.mountPoint;
  if (cpuOnV2 && unified) {
    return async () => {
      const children = await fs.readdir(unified, { withFileTypes: true });
      let total = 0;
      for (const child of children.filter((entry) => entry.isDirectory())) {
        // A child removed between readdir and the read contributes nothing.
        total += await readUsageUsec(path.join(unified, child.name, 'cpu.stat')).catch(() => 0);
      }
      return total;
    };
  }
  const cpuacct = v1MountOf(layout, 'cpuacct');
  return cpuacct ? () => readNanoseconds(path.join(cpuacct, 'cpuacct.usage')) : undefined;
}

async function readUsageUsec(file: string): Promise<number> {
  const text = await fs.readFile(file, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('usage_usec '));
  if (!line) throw new Error(`${file} has no usage_usec line`);
  return Number(line.split(' ')[1]);
}

/** Reads cpuacct.usage, which is in nanoseconds, as microseconds. */
async function readNanoseconds(file: string): Promise<number> {
  return Number((await fs.readFile(file, 'utf8')).trim()) / 1000;
}
