// Single cgroup counters by meaning, read from the v1 or v2 file that has
// them, for samplers that read every 100 ms where the engine's full stats
// (dozens of files) would cost too much under TCG.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { openCgroup } from '../../engine/cgroup/index.js';
import type { Cgroup, ControllerName } from '../../engine/cgroup/index.js';

/** Memory events with the v2 names; v1 has only max (memory.failcnt) and oom_kill. */
export type MemoryEvents = Partial<Record<'low' | 'high' | 'max' | 'oom' | 'oom_kill', number>>;

/** One cgroup's counter files, on whichever version serves each controller. */
export class CgroupCounters {
  private constructor(readonly cgroup: Cgroup) {}

  /** Opens the cgroup at `cgroupPath` (relative to the hierarchy roots) without creating it. */
  static async open(cgroupPath: string): Promise<CgroupCounters> {
    return new CgroupCounters(await openCgroup(cgroupPath));
  }

  /** The cgroup version that serves a controller; undefined when the controller is absent. */
  version(controller: ControllerName): 1 | 2 | undefined {
    return this.cgroup.controllers.get(controller);
  }

  /** Reads an integer file of a controller; undefined when the file does not exist. */
  async integer(controller: ControllerName, file: string): Promise<number | undefined> {
    const dir = this.cgroup.dirOf(controller);
    if (!dir) return undefined;
    const text = await fs.readFile(path.join(dir, file), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    const value = text.trim();
    return value === 'max' ? Infinity : Number(value);
  }

  /** Reads a flat-keyed file ("key value" lines) such as memory.stat. */
  async keyed(controller: ControllerName, file: string): Promise<Record<string, number>> {
    const dir = this.cgroup.dirOf(controller);
    const text = dir ? await fs.readFile(path.join(dir, file), 'utf8').catch(() => '') : '';
    const out: Record<string, number> = {};
    for (const line of text.split('\n')) {
      const [key, value] = line.trim().split(/\s+/);
      if (key && value !== undefined) out[key] = Number(value);
    }
    return out;
  }

  /** memory.current (v2) or memory.usage_in_bytes (v1), in bytes. */
  memoryCurrent(): Promise<number | undefined> {
    const v2 = this.version('memory') === 2;
    return this.integer('memory', v2 ? 'memory.current' : 'memory.usage_in_bytes');
  }

  /** memory.max (v2) or memory.limit_in_bytes (v1) in bytes; Infinity when unlimited. */
  async memoryLimit(): Promise<number | undefined> {
    const v2 = this.version('memory') === 2;
    const value = await this.integer('memory', v2 ? 'memory.max' : 'memory.limit_in_bytes');
    // v1 stores "unlimited" as PAGE_COUNTER_MAX pages, printed as about 2^63.
    return value !== undefined && value >= 2 ** 62 ? Infinity : value;
  }

  /** memory.peak (v2, Linux 5.19+) or memory.max_usage_in_bytes (v1), in bytes. */
  memoryPeak(): Promise<number | undefined> {
    const v2 = this.version('memory') === 2;
    return this.integer('memory', v2 ? 'memory.peak' : 'memory.max_usage_in_bytes');
  }

  /** memory.stat as key to number. */
  memoryStat(): Promise<Record<string, number>> {
    return this.keyed('memory', 'memory.stat');
  }

  /** memory.events (v2), or memory.failcnt as max and oom_control's oom_kill (v1). */
  async memoryEvents(): Promise<MemoryEvents> {
    if (this.version('memory') === 2) return this.keyed('memory', 'memory.events');
    const events: MemoryEvents = {};
    const failcnt = await this.integer('memory', 'memory.failcnt');
    if (failcnt !== undefined) events.max = failcnt;
    const oomKill = (await this.keyed('memory', 'memory.oom_control')).oom_kill;
    if (oomKill !== undefined) events.oom_kill = oomKill;
    return events;
  }

  /**
   * Kernel memory charged to the cgroup, in bytes: slab from memory.stat on
   * v2, memory.kmem.usage_in_bytes on v1 (slab plus other kernel allocations
   * such as page tables and kernel stacks).
   */
  async kernelMemory(): Promise<number | undefined> {
    if (this.version('memory') === 2) return (await this.memoryStat()).slab;
    return this.integer('memory', 'memory.kmem.usage_in_bytes');
  }

  /** pids.current. */
  pidsCurrent(): Promise<number | undefined> {
    return this.integer('pids', 'pids.current');
  }

  /** The max field of pids.events: forks refused because of a pids.max. */
  async pidsMaxEvents(): Promise<number | undefined> {
    return (await this.keyed('pids', 'pids.events')).max;
  }
}
