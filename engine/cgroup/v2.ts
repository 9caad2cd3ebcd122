// The cgroup v2 manager: one directory in the unified hierarchy.

import { join } from 'node:path';

import { IsolabError } from '../errors.js';
import type { LinuxResources } from '../spec/oci.js';
import { cpuV2 } from './cpu.js';
import { cpusetV2 } from './cpuset.js';
import { exists, readProcs, writeValue } from './files.js';
import { freezerV2 } from './freezer.js';
import { ioV2 } from './io.js';
import { defaultKillTimeoutMs, killByFreezing, waitForEmpty, type KillTarget } from './kill.js';
import {
  checkAvailable, checkPid, joinCgroup, makeDir, pathPrefixes, removeTree, systemOf,
  type CgroupPart, type CgroupSystem, type ManagerOptions,
} from './manager.js';
import { memoryV2 } from './memory.js';
import type { ControllerOps } from './ops.js';
import { pidsV2 } from './pids.js';
import { enableControllers, protectionWarningsV2, requestedProtection } from './subtree.js';
import type { CgroupStats, CgroupVersion, ControllerName } from './types.js';
import { applyUnified, validateUnified } from './unified.js';

const table: readonly ControllerOps[] = [memoryV2, pidsV2, cpuV2, cpusetV2, ioV2];

/** A cgroup in the unified (v2) hierarchy. */
export class CgroupV2 implements CgroupPart {
  readonly path: string;
  readonly controllers: ReadonlyMap<ControllerName, CgroupVersion>;
  private readonly mountPoint: string;
  private readonly system: CgroupSystem;
  private readonly created: Set<string>;

  constructor(path: string, controllers: ControllerName[], options: ManagerOptions) {
    const unified = options.layout.unified;
    if (!unified) {
      throw new IsolabError({
        kind: 'unsupported',
        op: 'open cgroup',
        value: path,
        reason: 'no cgroup2 file system is mounted',
      });
    }
    this.path = path;
    this.mountPoint = unified.mountPoint;
    this.system = systemOf(options);
    this.created = new Set(options.createdPaths ?? []);
    this.controllers = new Map(controllers.map((name) => [name, 2 as const]));
  }

  get createdPaths(): readonly string[] {
    return [...this.created];
  }

  private get dir(): string {
    return join(this.mountPoint, this.path);
  }

  /**
   * Creates each missing directory from the root down. Before creating a
   * child, the parent's cgroup.subtree_control gets the controllers it lacks,
   * so nothing is written where all are already enabled. The new cgroup's own
   * subtree_control stays empty, or it could not hold processes.
   */
  async create(): Promise<void> {
    const needed = [...this.controllers.keys()].filter((name) => name !== 'freezer');
    let parent = this.mountPoint;
    for (const prefix of pathPrefixes(this.path)) {
      await enableControllers(parent, needed);
      const dir = join(this.mountPoint, prefix);
      if (await makeDir(this.system, dir)) this.created.add(prefix);
      parent = dir;
    }
  }

  /** Validates every value, then writes the controllers' files and `unified` keys. */
  async apply(resources: LinuxResources): Promise<void> {
    checkAvailable(resources, this.controllers);
    this.validateOwn(resources);
    await this.writeOwn(resources);
  }

  validateOwn(resources: LinuxResources): void {
    validateUnified(resources, true);
    for (const ops of this.ownOps()) ops.validate(resources);
  }

  /**
   * Writes the limits. When the cgroup requests memory protection, the
   * ancestors this engine created get memory.low (or memory.min) `max`,
   * because the kernel caps a child's protection at its parent's.
   */
  async writeOwn(resources: LinuxResources): Promise<void> {
    for (const ops of this.ownOps()) {
      if (ops.requested(resources)) await ops.apply({ dir: this.dir }, resources);
    }
    await applyUnified(this.dir, resources);

    if (!this.controllers.has('memory')) return;
    const ancestors = pathPrefixes(this.path).slice(0, -1).filter((p) => this.created.has(p));
    for (const file of requestedProtection(resources)) {
      for (const ancestor of ancestors) {
        await writeValue(join(this.mountPoint, ancestor, file), 'max');
      }
    }
  }

  /** Writes the pid into cgroup.procs. */
  async addProcess(pid: number): Promise<void> {
    checkPid(pid);
    await joinCgroup(this.dir, pid);
  }

  /** Returns the pids in cgroup.procs, sorted. */
  async pids(): Promise<number[]> {
    return (await readProcs(join(this.dir, 'cgroup.procs'))).sort((a, b) => a - b);
  }

  /** Reads usage from each controller's files. */
  async stats(): Promise<CgroupStats> {
    const stats: CgroupStats = {};
    for (const ops of this.ownOps()) await ops.stats({ dir: this.dir }, stats);
    return stats;
  }

  /** Writes 1 to cgroup.freeze and waits for `frozen 1` in cgroup.events. */
  async freeze(timeoutMs?: number): Promise<void> {
    await freezerV2.freeze(this.dir, timeoutMs);
  }

  /** Writes 0 to cgroup.freeze and waits for `frozen 0` in cgroup.events. */
  async thaw(timeoutMs?: number): Promise<void> {
    await freezerV2.thaw(this.dir, timeoutMs);
  }

  /** Returns whether cgroup.events reads `frozen 1`. */
  async isFrozen(): Promise<boolean> {
    return freezerV2.isFrozen(this.dir);
  }

  /**
   * Kills every process through cgroup.kill (Linux 5.14+), which also covers
   * child cgroups, or else by freezing and sending SIGKILL to each pid.
   */
  async killAll(timeoutMs = defaultKillTimeoutMs): Promise<void> {
    const target: KillTarget = {
      path: this.path,
      pids: () => this.pids(),
      freeze: (ms) => freezerV2.freeze(this.dir, ms),
      thaw: (ms) => freezerV2.thaw(this.dir, ms),
      kill: (pid, signal) => this.system.kill(pid, signal),
    };
    const killFile = join(this.dir, 'cgroup.kill');
    if (!(await exists(killFile))) {
      await killByFreezing(target, timeoutMs);
      return;
    }
    await writeValue(killFile, '1');
    await waitForEmpty(target, timeoutMs);
  }

  /** Removes the cgroup, then the empty ancestors the engine created. */
  async destroy(): Promise<void> {
    await removeTree(this.system, [this.mountPoint], this.path, this.created);
  }

  /** Returns the directory for CLONE_INTO_CGROUP when memory and pids are both on v2. */
  v2Dir(): string | undefined {
    return this.controllers.has('memory') && this.controllers.has('pids') ? this.dir : undefined;
  }

  /** Returns true: a BPF program on the cgroup restricts devices on every cgroup2 hierarchy. */
  get controlsDevices(): boolean {
    return true;
  }

  deviceFilterDir(): string | undefined {
    return this.dir;
  }

  dirOf(controller: ControllerName): string | undefined {
    return this.controllers.has(controller) ? this.dir : undefined;
  }

  /** Lists each ancestor whose memory.low or memory.min is below this cgroup's. */
  async protectionWarnings(): Promise<string[]> {
    if (!this.controllers.has('memory')) return [];
    return protectionWarningsV2(this.mountPoint, this.path, this.created);
  }

  private ownOps(): ControllerOps[] {
    return table.filter((ops) => this.controllers.has(ops.name));
  }
}
