// Planning of an OCI mount of type `cgroup`. runc reads that type as "the
// host's cgroup hierarchies", not as the v1 filesystem type (mountCgroupV1 and
// mountCgroupV2 in libcontainer/rootfs_linux.go): cgroup2 on a v2-only host, and
// on a v1 or hybrid host a tmpfs with one mount per hierarchy.

import { readFileSync } from 'node:fs';
import path from 'node:path';

import { parseMountinfo } from '../cgroup/mounts.js';
import { MS } from './mountopts.js';
import type { MountStep, PlanStep } from './steps.js';

/** The cgroup hierarchies to recreate inside a container. */
export interface CgroupMountLayout {
  /** True when cgroup2 is mounted at /sys/fs/cgroup (no v1 hierarchies). */
  unified: boolean;
  /** v1 hierarchies: directory name under the mount point and mount data. */
  v1: Array<{ name: string; data: string }>;
  /** True when a cgroup2 hierarchy is mounted beside v1 ones (hybrid layout). */
  hybrid: boolean;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

// Superblock options of a v1 hierarchy that are not controller names. They are
// left out of the new mount's data, which then names only the hierarchy.
const V1_OPTIONS = new Set(['rw', 'ro', 'clone_children', 'noprefix', 'xattr', 'cpuset_v2_mode',
  'favordynmods']);

/** Reads the host's cgroup hierarchies from a mountinfo file. */
export function readCgroupMountLayout(mountinfo = '/proc/self/mountinfo'): CgroupMountLayout {
  const entries = parseMountinfo(readFileSync(mountinfo, 'utf8'));
  const layout: CgroupMountLayout = { unified: false, v1: [], hybrid: false };

  for (const entry of entries) {
    if (entry.fsType === 'cgroup2') {
      if (entry.mountPoint === CGROUP_ROOT) layout.unified = true;
      else if (path.dirname(entry.mountPoint) === CGROUP_ROOT) layout.hybrid = true;
      continue;
    }
    if (entry.fsType !== 'cgroup' || path.dirname(entry.mountPoint) !== CGROUP_ROOT) continue;

    const names = entry.superOptions.filter((o) => !V1_OPTIONS.has(o) && !/=/.test(o));
    const named = entry.superOptions.filter((o) => o.startsWith('name='));
    const data = names.length > 0 ? [...names, ...named] : ['none', ...named];
    layout.v1.push({ name: path.basename(entry.mountPoint), data: data.join(',') });
  }
  if (layout.v1.length > 0) layout.unified = false;
  return layout;
}

/** The result of planning one cgroup mount. */
export interface CgroupMountPlan {
  steps: PlanStep[];
  /** Paths to remount read-only after pivot, because their mount had to stay writable. */
  readonlyAfterPivot: string[];
}

/**
 * Plans the mounts for an OCI `cgroup` mount at `dest` with the flags of its options.
 *
 * NOTE: without a cgroup namespace each hierarchy shows the host's whole tree,
 * read-only when the options include `ro`, and in a user namespace the kernel
 * rejects the mount with EPERM. runc binds host directories in those cases.
 */
export function planCgroupMount(
  dest: string,
  flags: number,
  propagation: number,
  layout: CgroupMountLayout,
): CgroupMountPlan {
  const mount = (source: string, at: string, fstype: string, mountFlags: number, data: string):
    MountStep => ({ directive: 'mount', source, dest: at, fstype, flags: mountFlags, propagation,
    data });

  if (layout.unified) {
    return { steps: [mount('cgroup2', dest, 'cgroup2', flags, '')], readonlyAfterPivot: [] };
  }

  // The tmpfs stays writable until the helper has made the mount points in it.
  const tmpfsFlags = (flags & ~MS.RDONLY) >>> 0;
  const steps: PlanStep[] = [mount('tmpfs', dest, 'tmpfs', tmpfsFlags, 'mode=755')];
  const names = new Set(layout.v1.map((h) => h.name));

  for (const hierarchy of layout.v1) {
    const at = path.posix.join(dest, hierarchy.name);
    steps.push(mount('cgroup', at, 'cgroup', flags, hierarchy.data));

    // Co-mounted controllers such as cpu,cpuacct also get a link by each name.
    for (const controller of hierarchy.name.split(',')) {
      if (controller === hierarchy.name || names.has(controller)) continue;
      steps.push({ directive: 'symlink', target: hierarchy.name,
        linkpath: path.posix.join(dest, controller) });
    }
  }
  if (layout.hybrid) {
    const at = path.posix.join(dest, 'unified');
    steps.push(mount('cgroup2', at, 'cgroup2', flags, ''));
  }
  const readonlyAfterPivot = (flags & MS.RDONLY) !== 0 ? [dest] : [];
  return { steps, readonlyAfterPivot };
}
