// A cgroup split across versions, when the per-controller choice puts some
// controllers on cgroup2 and others on v1 hierarchies.

import type { LinuxResources } from '../spec/oci.js';
import { defaultKillTimeoutMs, killByFreezing } from './kill.js';
import { checkAvailable, systemOf, type CgroupPart, type ManagerOptions } from './manager.js';
import type { Cgroup, CgroupStats, CgroupVersion, ControllerName } from './types.js';
import { CgroupV1 } from './v1.js';
import { CgroupV2 } from './v2.js';

/** A cgroup with a v2 part and a v1 part, each controller served by exactly one. */
export class MixedCgroup implements Cgroup {
  readonly path: string;
  readonly controllers: ReadonlyMap<ControllerName, CgroupVersion>;
  private readonly v1: CgroupPart;
  private readonly v2: CgroupPart;
  private readonly kill: (pid: number, signal: NodeJS.Signals) => void;

  constructor(path: string, options: ManagerOptions) {
    const byVersion = (version: CgroupVersion): ControllerName[] =>
      [...options.layout.controllers].filter(([, v]) => v === version).map(([name]) => name);
    this.path = path;
    this.controllers = new Map(options.layout.controllers);
    this.v1 = new CgroupV1(path, byVersion(1), options);
    this.v2 = new CgroupV2(path, byVersion(2), options);
    this.kill = systemOf(options).kill;
  }

  /** Returns true: the v2 filter restricts devices, and so does a mounted v1 devices hierarchy. */
  get controlsDevices(): boolean {
    return true;
  }

  /**
   * Returns the v2 directory also when a v1 devices hierarchy restricts
   * devices: an exec that clone3 puts only into the v2 cgroup (memory and
   * pids on v2) joins no v1 hierarchy, so only the filter restricts it.
   */
  deviceFilterDir(): string | undefined {
    return this.v2.deviceFilterDir?.();
  }

  get createdPaths(): readonly string[] {
    return [...new Set([...this.v2.createdPaths, ...this.v1.createdPaths])];
  }

  async create(options?: { restrictDevices?: boolean }): Promise<void> {
    await this.v2.create();
    await this.v1.create(options);
  }

  /** Validates everything for both parts before either writes. `unified` goes to v2. */
  async apply(resources: LinuxResources): Promise<void> {
    checkAvailable(resources, this.controllers);
    this.v2.validateOwn(resources);
    this.v1.validateOwn(resources);
    await this.v2.writeOwn(resources);
    await this.v1.writeOwn(resources);
  }

  async addProcess(pid: number): Promise<void> {
    await this.v2.addProcess(pid);
    await this.v1.addProcess(pid);
  }

  async pids(): Promise<number[]> {
    const all = new Set([...(await this.v2.pids()), ...(await this.v1.pids())]);
    return [...all].sort((a, b) => a - b);
  }

  async stats(): Promise<CgroupStats> {
    const v2 = await this.v2.stats();
    const v1 = await this.v1.stats();
    const stats: CgroupStats = { ...v2, ...v1 };
    if (v2.pressure || v1.pressure) stats.pressure = { ...v2.pressure, ...v1.pressure };
    return stats;
  }

  freeze(): Promise<void> {
    return this.freezerPart().freeze();
  }

  thaw(): Promise<void> {
    return this.freezerPart().thaw();
  }

  isFrozen(): Promise<boolean> {
    return this.freezerPart().isFrozen();
  }

  /** Freezes through whichever part has the freezer, and kills the union of pids. */
  async killAll(timeoutMs = defaultKillTimeoutMs): Promise<void> {
    const freezer = this.freezerPart();
    await killByFreezing({
      path: this.path,
      pids: () => this.pids(),
      freeze: (ms) => freezer.freeze(ms),
      thaw: (ms) => freezer.thaw(ms),
      kill: this.kill,
    }, timeoutMs);
  }

  async destroy(): Promise<void> {
    await this.v1.destroy();
    await this.v2.destroy();
  }

  v2Dir(): string | undefined {
    return this.v2.v2Dir();
  }

  dirOf(controller: ControllerName): string | undefined {
    return this.v2.dirOf(controller) ?? this.v1.dirOf(controller);
  }

  protectionWarnings(): Promise<string[]> {
    return this.controllers.get('memory') === 2
      ? this.v2.protectionWarnings()
      : this.v1.protectionWarnings();
  }

  private freezerPart(): CgroupPart {
    return this.controllers.get('freezer') === 2 ? this.v2 : this.v1;
  }
}
