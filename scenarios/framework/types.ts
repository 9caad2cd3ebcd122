// The contract between scenario code, which runs on the target machine (a VM
// guest by default) next to the engine, and the Playwright specs on the host
// that judge it. Everything here is plain data so that it crosses the agent's
// JSON channel unchanged.
import type { Engine } from '../../engine/index.js';

/** The three phases every scenario runs. */
export type Phase = 'baseline' | 'attack' | 'control';

/** One comparison of a measured value with what the guarantee promises. */
export interface CheckResult {
  /** The checked property, as a sentence: "victim forks K children without EAGAIN". */
  name: string;
  actual: number;
  expected: number;
  /** The bound the actual value is held to: a maximum, a minimum, or expected +- limit. */
  limit: number;
  kind: 'at-most' | 'at-least' | 'within';
  /** Relative error |actual - expected| / |expected| (0 when expected is 0 and actual is too). */
  error: number;
  unit: string;
  pass: boolean;
}

/** A series of (milliseconds since the phase started, value) samples. */
export type Series = Array<[number, number]>;

/** The measurements of one phase. */
export interface PhaseResult {
  scenario: string;
  phase: Phase;
  /** The victim checks: all must pass in baseline and attack; at least one must fail in control. */
  checks: CheckResult[];
  /** Checks on the offender (contained, events counted); only judged in the attack phase. */
  offenderChecks: CheckResult[];
  /** Named constants and derived figures, written into the metrics JSON. */
  metrics: Record<string, number | string | boolean | null>;
  /** Raw samples polled during the phase, by name (victim latency, offender memory.current, ...). */
  samples: Record<string, Series>;
  /** Phase wall time in milliseconds. */
  wallMs: number;
  /** Set when the target lacks what the phase needs; the spec skips with this reason. */
  skipped?: string;
}

/** Facts about the target that scenarios branch on and record. */
export interface TargetFacts {
  kernelRelease: string;
  cgroupVersion: 1 | 2;
  /** Controllers the engine uses, with the cgroup version of each. */
  controllers: Record<string, 1 | 2>;
  cpus: number;
  memoryMiB: number;
  swapMiB: number;
}

/** The resources a scenario phase works with on the target. */
export interface ScenarioContext {
  engine: Engine;
  facts: TargetFacts;
  /** Directory on a real disk (ext4 work disk in a VM) for reclaimable files and bundles. */
  workDir: string;
  /** A busybox root filesystem with the workloads in /w. */
  rootfs: string;
  /** Directory of the compiled workloads on the target. */
  workloadsDir: string;
  /** The capped parent cgroup that plays the machine during attacks and controls. */
  capParent: string;
  /** A unique prefix for container ids and cgroup names of this phase. */
  prefix: string;
  log(message: string): void;
}

/** One scenario: an offender, at least one victim, three phases. */
export interface Scenario {
  name: string;
  title: string;
  /** Returns a reason to skip on this target, or undefined to run. */
  unsupported?(facts: TargetFacts): string | undefined;
  run(ctx: ScenarioContext, phase: Phase): Promise<PhaseResult>;
}
