// Discovery of the cgroup hierarchies from /proc/self/mountinfo, and the
// choice of cgroup version for each controller the engine uses.

import { promises as fs } from 'node:fs';
import { join } from 'node:path';

import { IsolabError, fromSystemError } from '../errors.js';
import { readOptional } from './files.js';
import type { CgroupVersion, ControllerName } from './types.js';

/** The versions to use: the per-controller choice, or one version only. */
export type LayoutMode = 'auto' | 'v1' | 'v2';

export const layoutModes: readonly LayoutMode[] = ['auto', 'v1', 'v2'];

/** One mounted v1 hierarchy, shared by co-mounted controllers such as `cpu,cpuacct`. */
export interface V1Hierarchy {
  mountPoint: string;
  controllers: string[];
}

/** The cgroup hierarchies of a machine and the version serving each controller. */
export interface CgroupLayout {
  /** systemd's terms: legacy is v1 only, hybrid is v1 plus cgroup2, unified is v2 only. */
  mode: 'legacy' | 'hybrid' | 'unified' | 'none';
  /** The cgroup2 mount and the controllers its root lists in cgroup.controllers. */
  unified?: { mountPoint: string; controllers: string[] };
  legacy: V1Hierarchy[];
  /** The version serving each controller. A controller left out is unavailable. */
  controllers: Map<ControllerName, CgroupVersion>;
}

/** One line of /proc/self/mountinfo, reduced to what cgroup discovery needs. */
export interface MountEntry {
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

export interface DetectOptions {
  /** The mountinfo file, /proc/self/mountinfo by default. */
  mountinfo?: string;
  /** A directory used as `/`, joined in front of every mount point (tests). */
  root?: string;
  mode?: LayoutMode;
}

/** The controllers the engine uses, with their v1 hierarchy names. */
export const v1Names: Readonly<Record<ControllerName, string>> = {
  memory: 'memory',
  pids: 'pids',
  cpu: 'cpu',
  cpuset: 'cpuset',
  io: 'blkio',
  freezer: 'freezer',
};

const knownV1Controllers = new Set([
  'blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'hugetlb', 'memory',
  'misc', 'net_cls', 'net_prio', 'perf_event', 'pids', 'rdma',
]);

/** Parses mountinfo text (see proc(5)) and decodes octal escapes such as \040. */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    const separator = fields.indexOf('-');
    if (separator < 6 || fields.length < separator + 4) continue;
    entries.push({
      mountPoint: unescapeOctal(fields[4] ?? ''),
      fsType: fields[separator + 1] ?? '',
      superOptions: (fields[separator + 3] ?? '').split(','),
    });
  }
  return entries;
}

function unescapeOctal(text: string): string {
  const decode = (_: string, code: string): string => String.fromCharCode(parseInt(code, 8));
  return text.replace(/\\([0-7]{3})/g, decode);
}

/** Reads the mounts and the cgroup2 root's cgroup.controllers, and picks versions. */
export async function detectLayout(options: DetectOptions = {}): Promise<CgroupLayout> {
  const mountinfo = options.mountinfo ?? '/proc/self/mountinfo';
  const root = options.root ?? '/';
  const mode = options.mode ?? 'auto';
  if (!layoutModes.includes(mode)) {
    throw new IsolabError({
      kind: 'invalid-input',
      op: 'detect cgroup layout',
      value: String(mode),
      reason: `unknown layout mode, expected one of ${layoutModes.join(', ')}`,
    });
  }

  let text: string;
  try {
    text = await fs.readFile(mountinfo, 'utf8');
  } catch (err) {
    throw fromSystemError('read mount table', mountinfo, err);
  }
  const entries = parseMountinfo(text);

  const legacy = mode === 'v2' ? [] : findV1Hierarchies(entries, root);
  const unified = mode === 'v1' ? undefined : await findUnified(entries, root);
  if (mode === 'v2' && !unified) {
    throw new IsolabError({
      kind: 'unsupported',
      op: 'detect cgroup layout',
      value: mode,
      reason: `no cgroup2 file system is mounted (read ${mountinfo})`,
    });
  }
  return buildLayout(unified, legacy);
}

function findV1Hierarchies(entries: MountEntry[], root: string): V1Hierarchy[] {
  const hierarchies: V1Hierarchy[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    if (entry.fsType !== 'cgroup') continue;

    // A `name=systemd` hierarchy has no controllers and is left alone.
    const controllers = entry.superOptions.filter((option) => knownV1Controllers.has(option));
    const key = [...controllers].sort().join(',');
    if (controllers.length === 0 || seen.has(key)) continue;
    seen.add(key);
    hierarchies.push({ mountPoint: join(root, entry.mountPoint), controllers });
  }
  return hierarchies;
}

async function findUnified(
  entries: MountEntry[],
  root: string,
): Promise<CgroupLayout['unified']> {
  const entry = entries.find((candidate) => candidate.fsType === 'cgroup2');
  if (!entry) return undefined;

  const mountPoint = join(root, entry.mountPoint);
  const text = await readOptional(join(mountPoint, 'cgroup.controllers'));
  const controllers = text ? text.split(/\s+/) : [];
  return { mountPoint, controllers };
}

/**
 * Chooses a version per controller: v2 when the cgroup2 root lists it in
 * cgroup.controllers, else v1 when a v1 hierarchy has it, else none. The
 * freezer is the exception, because v2 freezing is a core file
 * (cgroup.freeze, Linux 5.2+) that cgroup.controllers never lists: it uses a
 * v1 freezer hierarchy when one exists, else cgroup2 when mounted.
 */
export function buildLayout(
  unified: CgroupLayout['unified'],
  legacy: V1Hierarchy[],
): CgroupLayout {
  const controllers = new Map<ControllerName, CgroupVersion>();
  const v1Has = (name: string): boolean => legacy.some((h) => h.controllers.includes(name));
  for (const [controller, v1Name] of Object.entries(v1Names) as [ControllerName, string][]) {
    if (controller === 'freezer') continue;
    if (unified?.controllers.includes(controller)) controllers.set(controller, 2);
    else if (v1Has(v1Name)) controllers.set(controller, 1);
  }
  if (v1Has('freezer')) controllers.set('freezer', 1);
  else if (unified) controllers.set('freezer', 2);

  let mode: CgroupLayout['mode'] = 'none';
  if (unified && legacy.length > 0) mode = 'hybrid';
  else if (unified) mode = 'unified';
  else if (legacy.length > 0) mode = 'legacy';
  return { mode, unified, legacy, controllers };
}

/** Returns the mount point of the v1 hierarchy that has `v1Name`, if any. */
export function v1MountOf(layout: CgroupLayout, v1Name: string): string | undefined {
  return layout.legacy.find((h) => h.controllers.includes(v1Name))?.mountPoint;
}
