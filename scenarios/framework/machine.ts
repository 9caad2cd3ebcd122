// A nested cgroup under the phase's capped parent that plays a machine of
// a scenario's own size, so that a control without per-container limits
// fills a few tens of MiB instead of the whole cap.
import { openCgroup } from '../../engine/cgroup/index.js';
import type { LinuxResources } from '../../engine/spec/oci.js';
import { CgroupCounters } from './counters.js';
import type { ScenarioContext } from './types.js';

/** A machine cgroup: put containers below `path`, and destroy it after deleting them. */
export interface MachineCgroup {
  path: string;
  counters: CgroupCounters;
  /** Kills anything left in it and removes it; containers below must be deleted first. */
  destroy(): Promise<void>;
}

/** Creates `${ctx.capParent}/${ctx.prefix}-${name}` with the given limits. */
export async function createMachine(
  ctx: ScenarioContext,
  name: string,
  resources: LinuxResources,
): Promise<MachineCgroup> {
  const cgroupPath = `${ctx.capParent}/${ctx.prefix}-${name}`;
  const cgroup = await openCgroup(cgroupPath, { createdPaths: [cgroupPath] });
  await cgroup.create({ restrictDevices: false });
  try {
    await cgroup.apply(resources);
  } catch (err) {
    await cgroup.destroy().catch(() => undefined);
    throw err;
  }
  return {
    path: cgroupPath,
    counters: await CgroupCounters.open(cgroupPath),
    async destroy() {
      await cgroup.killAll(10_000).catch(() => undefined);
      await cgroup.destroy();
    },
  };
}

/** Returns the cgroup path of a container inside a machine cgroup. */
export function inMachine(ctx: ScenarioContext, machine: MachineCgroup, name: string): string {
  return `${machine.path}/${ctx.prefix}-${name}`;
}
