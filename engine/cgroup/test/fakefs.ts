// A temporary directory standing in for cgroupfs. New cgroup directories get
// the files the kernel would create, with the kernel's default contents, and
// a v2 child gets only the controllers its parent enables in
// cgroup.subtree_control, as on a real unified hierarchy.

import {
  promises as fs, readdirSync, readFileSync, renameSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

import type { CgroupSystem } from '../manager.js';
import {
  hybridMountinfo, unifiedMountinfo, v1Files, v2Core, v2Files,
} from './fixtures.js';

export { coMountedMountinfo, hybridMountinfo, unifiedMountinfo, v1Unlimited } from './fixtures.js';

/** A fake cgroupfs under a temporary directory. */
export interface FakeCgroupFs {
  root: string;
  mountinfo: string;
  system: Partial<CgroupSystem>;
  /** Pids passed to system.kill, in order. */
  killed: number[];
  /** Returns the trimmed content of a file, by path relative to `root`. */
  read(path: string): Promise<string>;
  write(path: string, text: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  /** Calls `callback` on each system.kill, before the pid leaves its cgroups. */
  onKill(callback: (pid: number) => void): void;
  /** Makes system.kill leave `pid` in its cgroups, like a task stuck in the kernel. */
  survive(pid: number): void;
  /** Mirrors cgroup.freeze into cgroup.events like the kernel, and returns a stop function. */
  emulateV2Freezer(path: string): () => void;
  cleanup(): Promise<void>;
}

type MountKind = { version: 1; controllers: string[] } | { version: 2; cgroupKill: boolean };

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) await fs.writeFile(join(dir, name), text);
}

async function populateV1(dir: string, controllers: string[]): Promise<void> {
  await writeFiles(dir, { 'cgroup.procs': '', tasks: '', notify_on_release: '0' });
  for (const controller of controllers) await writeFiles(dir, v1Files[controller] ?? {});
}

async function populateV2(dir: string, controllers: string[], cgroupKill: boolean): Promise<void> {
  await writeFiles(dir, v2Core);
  await writeFiles(dir, { 'cgroup.controllers': controllers.join(' ') });
  if (cgroupKill) await writeFiles(dir, { 'cgroup.kill': '' });
  for (const controller of controllers) await writeFiles(dir, v2Files[controller] ?? {});
}

/** Controllers a v2 child gets: those `+name` or `name` in the parent's subtree_control. */
async function enabledByParent(parent: string): Promise<string[]> {
  const text = await fs.readFile(join(parent, 'cgroup.subtree_control'), 'utf8');
  return text.split(/\s+/).filter((t) => t && !t.startsWith('-')).map((t) => t.replace(/^\+/, ''));
}

/** What the fake kill records and which pids it leaves in place. */
interface KillState {
  killed: number[];
  survivors: Set<number>;
  onKill?: (pid: number) => void;
}

/** Returns the mount whose path is the longest prefix of `dir`. */
function mountOf(
  root: string,
  mounts: Record<string, MountKind>,
  dir: string,
): MountKind | undefined {
  const rel = `/${relative(root, dir)}`;
  const match = Object.keys(mounts).filter((mount) => rel.startsWith(`${mount}/`))
    .sort((a, b) => b.length - a.length)[0];
  return match ? mounts[match] : undefined;
}

function fakeSystem(
  root: string,
  mounts: Record<string, MountKind>,
  state: KillState,
): Partial<CgroupSystem> {
  return {
    makeDir: async (dir) => {
      await fs.mkdir(dir);
      const kind = mountOf(root, mounts, dir);
      if (kind?.version === 1) await populateV1(dir, kind.controllers);
      if (kind?.version === 2) {
        await populateV2(dir, await enabledByParent(dirname(dir)), kind.cgroupKill);
      }
    },

    // As on cgroupfs, removal fails with EBUSY while cgroup.procs lists a task,
    // and the files go with the directory.
    removeDir: async (dir) => {
      const procs = await fs.readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
      if (procs.trim()) throw Object.assign(new Error(`EBUSY: ${dir}`), { code: 'EBUSY' });
      for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
        if (entry.isFile()) await fs.unlink(join(dir, entry.name));
      }
      await fs.rmdir(dir);
    },

    // A killed process leaves every cgroup at once, as if it exited and was reaped.
    kill: (pid) => {
      state.killed.push(pid);
      state.onKill?.(pid);
      if (!state.survivors.has(pid)) removePid(root, pid);
    },
  };
}

/** Copies cgroup.freeze into cgroup.events every 2 ms, and returns a stop function. */
function emulateV2Freezer(dir: string): () => void {
  const timer = setInterval(() => {
    try {
      const frozen = readFileSync(join(dir, 'cgroup.freeze'), 'utf8').trim();

      // Write and rename, so a concurrent read never gets a truncated file.
      writeFileSync(join(dir, '.cgroup.events'), `populated 1\nfrozen ${frozen}\n`);
      renameSync(join(dir, '.cgroup.events'), join(dir, 'cgroup.events'));
    } catch {
      // The directory was removed.
    }
  }, 2);
  return () => clearInterval(timer);
}

async function makeFake(
  mountinfo: string,
  mounts: Record<string, MountKind>,
  setupRoot: (root: string) => Promise<void>,
): Promise<FakeCgroupFs> {
  const root = await fs.mkdtemp(join(tmpdir(), 'isolab-cgfake-'));
  await fs.writeFile(join(root, 'mountinfo'), `${mountinfo}\n`);
  await setupRoot(root);
  const state: KillState = { killed: [], survivors: new Set() };

  return {
    root,
    mountinfo: join(root, 'mountinfo'),
    system: fakeSystem(root, mounts, state),
    killed: state.killed,
    read: async (path) => (await fs.readFile(join(root, path), 'utf8')).trim(),
    write: (path, text) => fs.writeFile(join(root, path), text),
    exists: (path) => fs.access(join(root, path)).then(() => true, () => false),
    onKill: (callback) => {
      state.onKill = callback;
    },
    survive: (pid) => {
      state.survivors.add(pid);
    },
    emulateV2Freezer: (path) => emulateV2Freezer(join(root, path)),
    cleanup: () => fs.rm(root, { recursive: true, force: true }),
  };
}

/** Removes `pid` from every cgroup.procs under `dir`. */
function removePid(dir: string, pid: number): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) removePid(path, pid);
    if (entry.name !== 'cgroup.procs') continue;
    const remaining = readFileSync(path, 'utf8').split('\n')
      .filter((line) => line && Number(line) !== pid);
    writeFileSync(path, remaining.map((line) => `${line}\n`).join(''));
  }
}

const hybridMounts: Record<string, string[]> = {
  cpu: ['cpu'], cpuacct: ['cpuacct'], cpuset: ['cpuset'], memory: ['memory'],
  devices: ['devices'], freezer: ['freezer'], blkio: ['blkio'], pids: ['pids'],
};

/** Builds the hybrid host of `hybridMountinfo`: every controller on v1, cgroup2 empty. */
export async function fakeHybrid(): Promise<FakeCgroupFs> {
  const mounts: Record<string, MountKind> = {
    '/sys/fs/cgroup/unified': { version: 2, cgroupKill: true },
  };
  for (const [name, controllers] of Object.entries(hybridMounts)) {
    mounts[`/sys/fs/cgroup/${name}`] = { version: 1, controllers };
  }
  return makeFake(hybridMountinfo, mounts, async (root) => {
    for (const [name, controllers] of Object.entries(hybridMounts)) {
      const dir = join(root, 'sys/fs/cgroup', name);
      await fs.mkdir(dir, { recursive: true });
      await populateV1(dir, controllers);
    }
    await writeFiles(join(root, 'sys/fs/cgroup/cpuset'), {
      'cpuset.cpus': '0-3',
      'cpuset.mems': '0',
    });
    const unified = join(root, 'sys/fs/cgroup/unified');
    await fs.mkdir(unified, { recursive: true });
    await writeFiles(unified, { 'cgroup.controllers': '', 'cgroup.subtree_control': '' });
  });
}

export interface UnifiedOptions {
  /** Controllers the root lists in cgroup.controllers. */
  controllers?: string[];
  /** The root's cgroup.subtree_control, with nothing enabled by default. */
  subtreeControl?: string;
  /** Whether new cgroups have cgroup.kill (Linux 5.14+). */
  cgroupKill?: boolean;
}

/** Builds a pure v2 host mounted at /sys/fs/cgroup. */
export async function fakeUnified(options: UnifiedOptions = {}): Promise<FakeCgroupFs> {
  const controllers = options.controllers ?? ['cpuset', 'cpu', 'io', 'memory', 'pids'];
  const mounts: Record<string, MountKind> = {
    '/sys/fs/cgroup': { version: 2, cgroupKill: options.cgroupKill ?? true },
  };
  return makeFake(unifiedMountinfo, mounts, async (root) => {
    const dir = join(root, 'sys/fs/cgroup');
    await fs.mkdir(dir, { recursive: true });
    await writeFiles(dir, {
      'cgroup.controllers': controllers.join(' '),
      'cgroup.subtree_control': options.subtreeControl ?? '',
      'cgroup.procs': '1\n',
    });
  });
}
