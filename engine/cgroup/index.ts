// The cgroup manager's entry point: detect the hierarchies, then pick the v1,
// v2 or mixed manager for a cgroup path.

import { IsolabError } from '../errors.js';
import type { CgroupSystem } from './manager.js';
import { MixedCgroup } from './mixed.js';
import { detectLayout, layoutModes, type CgroupLayout, type LayoutMode } from './mounts.js';
import type { Cgroup, ControllerName } from './types.js';
import { CgroupV1 } from './v1.js';
import { CgroupV2 } from './v2.js';
import { checkCgroupPath } from './validate.js';

export { detectLayout, parseMountinfo, layoutModes } from './mounts.js';
export type { CgroupLayout, LayoutMode, V1Hierarchy } from './mounts.js';
export type { CgroupSystem } from './manager.js';
export type * from './types.js';

export interface OpenOptions {
  /** A directory standing in for `/`, joined in front of each mount point (tests). */
  root?: string;
  /** The mountinfo file to read, /proc/self/mountinfo by default. */
  mountinfo?: string;
  /** A layout already detected, or which versions to use: `auto` (default), `v1` or `v2`. */
  layout?: CgroupLayout | LayoutMode;
  /** Paths the engine created earlier, restored from container state (Cgroup.createdPaths). */
  createdPaths?: readonly string[];
  /** Replacements for the system calls, for tests against a fake cgroupfs. */
  system?: Partial<CgroupSystem>;
}

/**
 * Opens the cgroup at `path`, relative to each hierarchy's root (such as
 * `isolab/web1`), without creating it. The manager serves each controller
 * from the version the layout chose for it.
 */
export async function openCgroup(path: string, options: OpenOptions = {}): Promise<Cgroup> {
  const relative = checkCgroupPath(path);
  const layout = await resolveLayout(options);
  const byVersion = (version: 1 | 2): ControllerName[] =>
    [...layout.controllers].filter(([, v]) => v === version).map(([name]) => name);
  const v1 = byVersion(1);
  const v2 = byVersion(2);
  if (v1.length === 0 && v2.length === 0) {
    throw new IsolabError({
      kind: 'unsupported',
      op: 'open cgroup',
      value: relative,
      reason: `no cgroup controller is available (layout ${layout.mode})`,
    });
  }

  const createdPaths = (options.createdPaths ?? [])
    .filter((created) => relative === created || relative.startsWith(`${created}/`));
  const managerOptions = { layout, createdPaths, system: options.system };
  if (v1.length === 0) return new CgroupV2(relative, v2, managerOptions);
  if (v2.length === 0) return new CgroupV1(relative, v1, managerOptions);
  return new MixedCgroup(relative, managerOptions);
}

async function resolveLayout(options: OpenOptions): Promise<CgroupLayout> {
  const layout = options.layout ?? 'auto';
  if (typeof layout === 'object') return layout;
  if (!layoutModes.includes(layout)) {
    throw new IsolabError({
      kind: 'invalid-input',
      op: 'open cgroup with layout',
      value: String(layout),
      reason: `unknown layout, expected a detected layout or one of ${layoutModes.join(', ')}`,
    });
  }
  return detectLayout({ mode: layout, root: options.root, mountinfo: options.mountinfo });
}
