// The cgroup v1 manager: one directory per controller hierarchy.

import { join } from 'node:path';

import { writeFile } from 'node:fs/promises';

import { IsolabError } from '../errors.js';
import { applyDefaultDevicesV1 } from './devices.js';
import type { LinuxResources } from '../spec/oci.js';
import { cpuV1 } from './cpu.js';
import { cpusetV1, inheritCpusetV1 } from './cpuset.js';
import { readOptional, readProcs } from './files.js';
import { freezerV1 } from './freezer.js';
import { ioV1 } from './io.js';
import { defaultKillTimeoutMs, killByFreezing } from './kill.js';
import {
  checkAvailable, checkPid, forEachHierarchy, joinCgroup, makeDir, pathPrefixes, removeTree, systemOf,
  type CgroupPart, type CgroupSystem, type ManagerOptions,
} from './manager.js';
import { makeHierarchicalV1, memoryV1, parseV1Limit } from './memory.js';
import { v1MountOf, v1Names, type CgroupLayout } from './mounts.js';
import type { ControllerDirs, ControllerOps } from './ops.js';
import { pidsV1 } from './pids.js';
import type { CgroupStats, CgroupVersion, ControllerName } from './types.js';
import { validateUnified } from './unified.js';

const table: readonly ControllerOps[] = [memoryV1, pidsV1, cpuV1, cpusetV1, ioV1];

/**
 * A cgroup on v1 hierarchies. It lives in the hierarchy of each controller it
 * serves, plus cpuacct for CPU usage. Hierarchies without a controller the
 * engine uses, such as `name=systemd`, are not touched.
 */
export class CgroupV1 implements CgroupPart {
  readonly path: string;
  readonly controllers: ReadonlyMap<ControllerName, CgroupVersion>;
  private readonly layout: CgroupLayout;
  private readonly system: CgroupSystem;
  private readonly created: Set<string>;
  private readonly mountPoints: string[];

  constructor(path: string, controllers: ControllerName[], options: ManagerOptions) {
    this.path = path;
    this.layout = options.layout;
    this.system = systemOf(options);
    this.created = new Set(options.createdPaths ?? []);
    this.controllers = new Map(controllers.map((name) => [name, 1 as const]));

    const mounts = controllers.map((name) => v1MountOf(this.layout, v1Names[name]));
    if (controllers.includes('cpu')) mounts.push(v1MountOf(this.layout, 'cpuacct'));
    this.devicesMount = v1MountOf(this.layout, 'devices');
    mounts.push(this.devicesMount);
    this.mountPoints = [...new Set(mounts.filter((mount): mount is string => !!mount))];
  }

  /** The v1 devices hierarchy, when mounted: the engine joins it and restricts device access. */
  private readonly devicesMount: string | undefined;

  /** Returns true when device access can be restricted (a v1 devices hierarchy is mounted). */
  get controlsDevices(): boolean {
    return this.devicesMount !== undefined;
  }

  get createdPaths(): readonly string[] {
    return [...this.created];
  }

  /**
   * Creates the path in each hierarchy. A new cpuset cgroup copies its
   * parent's CPUs, and a new memory cgroup is made hierarchical.
   */
  async create(options: { restrictDevices?: boolean } = {}): Promise<void> {
    const cpusetMount = v1MountOf(this.layout, 'cpuset');
    const memoryMount = v1MountOf(this.layout, 'memory');
    await forEachHierarchy(this.mountPoints, async (mountPoint) => {
      let parent = mountPoint;
      for (const prefix of pathPrefixes(this.path)) {
        const dir = join(mountPoint, prefix);
        const isNew = await makeDir(this.system, dir);
        if (isNew) this.created.add(prefix);
        if (mountPoint === cpusetMount) await inheritCpusetV1(parent, dir);
        if (isNew && mountPoint === memoryMount) await makeHierarchicalV1(dir);
        parent = dir;
      }
    });
    if (this.devicesMount && options.restrictDevices !== false) {
      await applyDefaultDevicesV1(join(this.devicesMount, this.path), (file, value) => writeFile(file, value));
    }
  }

  /** Validates every value, then writes them. `unified` keys are rejected on v1. */
  async apply(resources: LinuxResources): Promise<void> {
    checkAvailable(resources, this.controllers);
    validateUnified(resources, false);
    this.validateOwn(resources);
    await this.writeOwn(resources);
  }

  validateOwn(resources: LinuxResources): void {
    for (const ops of this.ownOps()) ops.validate(resources);
  }

  async writeOwn(resources: LinuxResources): Promise<void> {
    for (const ops of this.ownOps()) {
      if (ops.requested(resources)) await ops.apply(this.dirsOf(ops.name), resources);
    }
  }

  /** Writes the pid into cgroup.procs of every hierarchy the cgroup lives in. */
  async addProcess(pid: number): Promise<void> {
    checkPid(pid);
    await forEachHierarchy(this.mountPoints, (mountPoint) => joinCgroup(join(mountPoint, this.path), pid));
  }

  /** Returns the union of cgroup.procs over the hierarchies, sorted. */
  async pids(): Promise<number[]> {
    const all = new Set<number>();
    for (const mountPoint of this.mountPoints) {
      for (const pid of await readProcs(join(mountPoint, this.path, 'cgroup.procs'))) all.add(pid);
    }
    return [...all].sort((a, b) => a - b);
  }

  /** Reads usage from each controller's files. */
  async stats(): Promise<CgroupStats> {
    const stats: CgroupStats = {};
    for (const ops of this.ownOps()) await ops.stats(this.dirsOf(ops.name), stats);
    return stats;
  }

  /** Sets freezer.state to FROZEN and waits until every task has stopped. */
  async freeze(timeoutMs?: number): Promise<void> {
    await freezerV1.freeze(this.freezerDir('freeze'), timeoutMs);
  }

  /** Sets freezer.state to THAWED and waits until it reads back THAWED. */
  async thaw(timeoutMs?: number): Promise<void> {
    await freezerV1.thaw(this.freezerDir('thaw'), timeoutMs);
  }

  /** Returns whether freezer.state is FROZEN, or false without a freezer hierarchy. */
  async isFrozen(): Promise<boolean> {
    const dir = this.dirOf('freezer');
    return dir ? freezerV1.isFrozen(dir) : false;
  }

  /** Freezes, sends SIGKILL to each pid, thaws, and repeats until the cgroup is empty. */
  async killAll(timeoutMs = defaultKillTimeoutMs): Promise<void> {
    const dir = this.dirOf('freezer');
    await killByFreezing({
      path: this.path,
      pids: () => this.pids(),
      freeze: dir ? (ms) => freezerV1.freeze(dir, ms) : undefined,
      thaw: dir ? (ms) => freezerV1.thaw(dir, ms) : undefined,
      kill: (pid, signal) => this.system.kill(pid, signal),
    }, timeoutMs);
  }

  /** Removes the cgroup from each hierarchy, then the empty ancestors the engine created. */
  async destroy(): Promise<void> {
    await removeTree(this.system, this.mountPoints, this.path, this.created);
  }

  v2Dir(): string | undefined {
    return undefined;
  }

  dirOf(controller: ControllerName): string | undefined {
    if (!this.controllers.has(controller)) return undefined;
    const mountPoint = v1MountOf(this.layout, v1Names[controller]);
    return mountPoint ? join(mountPoint, this.path) : undefined;
  }

  /** Reports a reservation, because v1 has no memory.low or memory.min to honour it. */
  async protectionWarnings(): Promise<string[]> {
    const dir = this.dirOf('memory');
    if (!dir) return [];
    const text = await readOptional(join(dir, 'memory.soft_limit_in_bytes'));
    const reservation = text === undefined ? null : parseV1Limit(text);
    if (reservation === null) return [];
    return [
      `cgroup v1 has no memory.low or memory.min, so the reservation of ${reservation} bytes ` +
      `in ${dir}/memory.soft_limit_in_bytes only steers reclaim and protects nothing`,
    ];
  }

  private ownOps(): ControllerOps[] {
    return table.filter((ops) => this.controllers.has(ops.name));
  }

  private dirsOf(name: ControllerName): ControllerDirs {
    const cpuacct = v1MountOf(this.layout, 'cpuacct');
    return {
      dir: this.dirOf(name) ?? '',
      cpuacctDir: name === 'cpu' && cpuacct ? join(cpuacct, this.path) : undefined,
    };
  }

  private freezerDir(op: 'freeze' | 'thaw'): string {
    const dir = this.dirOf('freezer');
    if (dir) return dir;
    throw new IsolabError({
      kind: 'unsupported',
      op: `${op} cgroup`,
      value: this.path,
      reason: 'no v1 freezer hierarchy is mounted',
    });
  }
}
