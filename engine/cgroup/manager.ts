// Pieces shared by the v1 and v2 managers: options, the system calls that
// tests replace, directory creation and removal, and joining a cgroup.

import { promises as fs } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';

import { IsolabError, fromSystemError } from '../errors.js';
import type { LinuxResources } from '../spec/oci.js';
import { cpuV1 } from './cpu.js';
import { cpusetV1 } from './cpuset.js';
import { sleep, writeValue } from './files.js';
import { ioV1 } from './io.js';
import { memoryV1 } from './memory.js';
import type { CgroupLayout } from './mounts.js';
import type { ControllerOps } from './ops.js';
import { pidsV1 } from './pids.js';
import type { Cgroup, CgroupVersion, ControllerName } from './types.js';
import { unsupported } from './validate.js';

/** The system calls a manager makes that tests replace with a fake cgroupfs. */
export interface CgroupSystem {
  /** Creates one cgroup directory, failing with EEXIST if it exists. */
  makeDir(dir: string): Promise<void>;
  /** Removes one cgroup directory. cgroupfs fails with EBUSY while it has tasks or children. */
  removeDir(dir: string): Promise<void>;
  /** Sends a signal to a process. */
  kill(pid: number, signal: NodeJS.Signals): void;
}

export const realSystem: CgroupSystem = {
  makeDir: async (dir) => {
    await fs.mkdir(dir);
  },
  removeDir: (dir) => fs.rmdir(dir),
  kill: (pid, signal) => {
    process.kill(pid, signal);
  },
};

export interface ManagerOptions {
  layout: CgroupLayout;
  /** Paths this engine created earlier, restored from container state, such as `isolab`. */
  createdPaths?: readonly string[];
  system?: Partial<CgroupSystem>;
}

/** A manager for one cgroup version, usable alone or as half of a mixed layout. */
export interface CgroupPart extends Cgroup {
  readonly createdPaths: readonly string[];
  freeze(timeoutMs?: number): Promise<void>;
  thaw(timeoutMs?: number): Promise<void>;
  /** Throws for a bad value among the controllers this part serves, without writing. */
  validateOwn(resources: LinuxResources): void;
  /** Writes the limits of the controllers this part serves. */
  writeOwn(resources: LinuxResources): Promise<void>;
}

/** How long destroy() retries rmdir while exiting tasks leave the cgroup, in milliseconds. */
const removeRetryMs = 2000;

/** Returns `isolab`, `isolab/web1` for `isolab/web1`: each ancestor, then the path. */
export function pathPrefixes(path: string): string[] {
  const parts = path.split('/');
  return parts.map((_, index) => parts.slice(0, index + 1).join('/'));
}

/** Fills in the system calls the caller did not replace. */
export function systemOf(options: ManagerOptions): CgroupSystem {
  return { ...realSystem, ...options.system };
}

/**
 * Throws an unsupported error naming the config section for each requested
 * controller that no hierarchy serves, before anything is written.
 */
export function checkAvailable(
  resources: LinuxResources,
  controllers: ReadonlyMap<ControllerName, CgroupVersion>,
): void {
  const sections: [ControllerOps, string, unknown][] = [
    [memoryV1, 'linux.resources.memory', resources.memory],
    [pidsV1, 'linux.resources.pids', resources.pids],
    [cpuV1, 'linux.resources.cpu', resources.cpu],
    [cpusetV1, 'linux.resources.cpu', resources.cpu],
    [ioV1, 'linux.resources.blockIO', resources.blockIO],
  ];
  for (const [ops, field, section] of sections) {
    if (!ops.requested(resources) || controllers.has(ops.name)) continue;
    throw unsupported(field, section,
      `the ${ops.name} controller is not available: neither listed in the cgroup2 root's ` +
      'cgroup.controllers nor mounted as a v1 hierarchy');
  }
}

/** Creates `dir`, or returns false if it already existed. */
export async function makeDir(system: CgroupSystem, dir: string): Promise<boolean> {
  try {
    await system.makeDir(dir);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw fromSystemError('create cgroup', dir, err);
  }
}

/**
 * Removes `dir`, retrying on EBUSY while exiting tasks leave it. Returns
 * false if it is still busy (tasks or child cgroups) after the retries.
 */
export async function removeDir(
  system: CgroupSystem,
  dir: string,
  retryMs = removeRetryMs,
): Promise<boolean> {
  const deadline = Date.now() + retryMs;
  for (;;) {
    try {
      await system.removeDir(dir);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      if (code !== 'EBUSY' && code !== 'ENOTEMPTY') {
        throw fromSystemError('remove cgroup', dir, err);
      }
      if (Date.now() >= deadline) return false;
      await sleep(20);
    }
  }
}

/**
 * Removes the cgroup at `path` under each mount point, then each ancestor
 * that this engine created, deepest first. An ancestor still used by another
 * container (EBUSY) stays, and so do all ancestors above it. Ancestors the
 * engine did not create, such as an `isolab` made by an administrator, are
 * never removed.
 */
/**
 * Runs `work` for each item at once, as the v1 hierarchies are independent,
 * and waits for all of them before it throws the first error, so that no
 * write is still running when the caller rolls back.
 */
export async function forEachHierarchy<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(items.map(work));
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}

export async function removeTree(
  system: CgroupSystem,
  mountPoints: string[],
  path: string,
  created: Set<string>,
): Promise<void> {
  await forEachHierarchy(mountPoints, async (mountPoint) => {
    const dir = join(mountPoint, path);
    if (!(await removeDir(system, dir))) {
      throw new IsolabError({
        kind: 'bad-state',
        op: 'remove cgroup',
        value: dir,
        reason: 'it still has processes or child cgroups',
        errno: osConstants.errno.EBUSY,
      });
    }
  });
  created.delete(path);

  const ancestors = pathPrefixes(path).slice(0, -1).reverse();
  for (const ancestor of ancestors) {
    if (!created.has(ancestor)) return;
    for (const mountPoint of mountPoints) {
      if (!(await removeDir(system, join(mountPoint, ancestor), 0))) return;
    }
    created.delete(ancestor);
  }
}

/** Writes `pid` into `dir/cgroup.procs`, explaining the kernel's usual refusals. */
export async function joinCgroup(dir: string, pid: number): Promise<void> {
  try {
    await writeValue(join(dir, 'cgroup.procs'), String(pid));
  } catch (err) {
    const cause = err as IsolabError;
    const reasons: Record<string, string> = {
      ESRCH: 'the process does not exist',
      ENOSPC: 'cpuset.cpus or cpuset.mems of the cgroup is empty',
      EBUSY: 'the cgroup has controllers enabled for child cgroups, so by the v2 ' +
        '"no internal processes" rule it cannot hold processes',
      EOPNOTSUPP: 'the cgroup is threaded or the process cannot move',
      ENOENT: 'the cgroup does not exist',
    };
    const code = cause.code ?? '';
    throw new IsolabError({
      kind: code === 'ESRCH' || code === 'ENOENT' ? 'not-found' : cause.kind,
      op: 'add process to cgroup',
      value: `${pid} -> ${dir}`,
      reason: reasons[code],
      errno: cause.errno,
      cause: err,
    });
  }
}

/** Checks that `pid` is a positive integer before it is written anywhere. */
export function checkPid(pid: number): void {
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    throw new IsolabError({
      kind: 'invalid-input',
      op: 'add process to cgroup',
      value: String(pid),
      reason: 'a pid must be a positive integer',
    });
  }
}
