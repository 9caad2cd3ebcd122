import type { LinuxResources } from '../spec/oci.js';

export type CgroupVersion = 1 | 2;

export type ControllerName = 'memory' | 'pids' | 'cpu' | 'cpuset' | 'io' | 'freezer';

/** Usage read from the kernel's own cgroup files; absent fields are not offered. */
export interface CgroupStats {
  memory?: {
    usage: number;
    limit: number | null;
    maxUsage?: number;
    swapUsage?: number;
    /**
     * memory.events on v2. On v1 `max` is memory.failcnt and `oom_kill` comes from
     * memory.oom_control, and v1 has no count for `low`, `high` or `oom`.
     */
    events: Partial<Record<'low' | 'high' | 'max' | 'oom' | 'oom_kill', number>>;
    /** memory.stat as key to number (bytes or counts, as the kernel writes them). */
    stat: Record<string, number>;
    /** v1 only: memory.kmem.usage_in_bytes, when the kernel has it. */
    kernelUsage?: number;
  };
  pids?: { current: number; limit: number | null; events: { max?: number } };
  cpu?: {
    /** Total CPU time in microseconds (cpu.stat usage_usec, or cpuacct.usage / 1000). */
    usageUsec: number;
    userUsec?: number;
    systemUsec?: number;
    nrPeriods?: number;
    nrThrottled?: number;
    throttledUsec?: number;
    /** v2 cpu.weight, or v1 cpu.shares converted to a weight. */
    weight?: number;
    /** Quota and period in microseconds; quota null means unlimited. */
    quotaUsec?: number | null;
    periodUsec?: number;
  };
  io?: { stat: Record<string, Record<string, number>> };
  /** PSI from <controller>.pressure files, where the kernel has them. */
  pressure?: Partial<Record<'cpu' | 'memory' | 'io', PressureStats>>;
}

export interface PressureLine { avg10: number; avg60: number; avg300: number; total: number }
export interface PressureStats { some: PressureLine; full?: PressureLine }

/** A container's cgroup, on whatever hierarchies the kernel has mounted. */
export interface Cgroup {
  /** The path relative to each hierarchy's root, such as `isolab/web1`. */
  readonly path: string;
  /** Which version serves each controller the engine uses. */
  readonly controllers: ReadonlyMap<ControllerName, CgroupVersion>;
  /**
   * Creates the cgroup directories; safe to repeat. On a v1 devices
   * hierarchy it also writes the default device rules, unless
   * `restrictDevices` is false (harness cgroups and control runs).
   */
  create(options?: { restrictDevices?: boolean }): Promise<void>;
  /** Writes the limits; a second call updates them (`isolab engine update`). */
  apply(resources: LinuxResources): Promise<void>;
  /** Moves a process (all its threads) into the cgroup on every hierarchy. */
  addProcess(pid: number): Promise<void>;
  /** Returns the pids in the cgroup (union over hierarchies). */
  pids(): Promise<number[]>;
  stats(): Promise<CgroupStats>;
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  isFrozen(): Promise<boolean>;
  /** Kills every process in the cgroup and waits until it is empty (cgroup.kill, or freeze plus SIGKILL). */
  killAll(timeoutMs?: number): Promise<void>;
  /** Removes the directories; a cgroup that is already gone is not an error. */
  destroy(): Promise<void>;
  /** The v2 directory for CLONE_INTO_CGROUP, when memory and pids are on v2. */
  v2Dir(): string | undefined;
  /** The directory of one controller's hierarchy, for reading files directly. */
  dirOf(controller: ControllerName): string | undefined;
  /** Reasons why memory.low or memory.min protection is not honoured, for `state`. */
  protectionWarnings(): Promise<string[]>;
  /**
   * Paths this engine created, such as `isolab` and `isolab/web1`, to keep with
   * the container state. destroy() removes an ancestor only if it is listed here.
   */
  readonly createdPaths?: readonly string[];
  /**
   * True when the engine restricts device access: through a v1 devices
   * hierarchy, or on cgroup v2 through the BPF device filter that the native
   * helper attaches to deviceFilterDir().
   */
  readonly controlsDevices?: boolean;
  /** The cgroup2 directory that gets the BPF device filter, whenever the cgroup has a v2 part. */
  deviceFilterDir?(): string | undefined;
}
