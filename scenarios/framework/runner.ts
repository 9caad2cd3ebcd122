// Runs scenario phases on the machine this process is on, with a hard
// timeout per phase and the phase's containers always deleted afterwards.
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { Engine } from '../../engine/index.js';
import { findScenario } from '../suites/index.js';
import { prepareCapParent, prepareRootfs, protectHarness, readFacts, removeCapParent, workloadsDir } from './target.js';
import { skippedPhase } from './phase.js';
import type { Phase, PhaseResult, ScenarioContext, TargetFacts } from './types.js';

export interface RunnerOptions {
  /** State root of the engine for scenario containers. */
  stateRoot: string;
  /** Directory on a real disk for files and bundles. */
  workDir: string;
  /** pids to move into the protected harness cgroup (the agent, its SSH session). */
  harnessPids?: number[];
  /** Upper bound of one phase, in ms. */
  phaseTimeoutMs?: number;
}

export const HARNESS_CGROUP = 'isolab-harness';
export const CAP_CGROUP = 'isolab-cap';

/** Runs phases of named scenarios; one instance per target machine. */
export class ScenarioRunner {
  private facts: TargetFacts | undefined;
  private rootfs: string | undefined;
  readonly engine: Engine;

  constructor(private readonly options: RunnerOptions) {
    this.engine = new Engine(options.stateRoot);
  }

  /** Reads the target's facts, builds the rootfs and protects the harness. */
  async prepare(): Promise<TargetFacts> {
    this.facts = await readFacts();
    await fs.mkdir(this.options.workDir, { recursive: true });
    this.rootfs = await prepareRootfs(this.options.workDir);
    if (this.options.harnessPids?.length) await protectHarness(HARNESS_CGROUP, this.options.harnessPids);
    return this.facts;
  }

  /** Runs one phase; containers of the phase are deleted whatever happens. */
  async run(name: string, phase: Phase, log: (message: string) => void): Promise<PhaseResult> {
    if (!this.facts || !this.rootfs) await this.prepare();
    const scenario = findScenario(name);
    const reason = scenario.unsupported?.(this.facts!);
    if (reason) return skippedPhase(name, phase, reason);
    const prefix = `${name}-${phase}-${randomBytes(3).toString('hex')}`;
    const capParent = await prepareCapParent(`${CAP_CGROUP}-${prefix}`, capLimits(this.facts!));
    const ctx: ScenarioContext = {
      engine: this.engine,
      facts: this.facts!,
      workDir: path.join(this.options.workDir, prefix),
      rootfs: this.rootfs!,
      workloadsDir: workloadsDir(),
      capParent,
      prefix,
      log,
    };
    await fs.mkdir(ctx.workDir, { recursive: true });
    // Below the host's own bound for a phase (240 s), so the guest cleans up first.
    const timeout = this.options.phaseTimeoutMs ?? 200_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        scenario.run(ctx, phase),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`scenario ${name} phase ${phase} timed out after ${timeout} ms`)), timeout);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      await this.cleanup(prefix);
      await removeCapParent(capParent);
      await fs.rm(ctx.workDir, { recursive: true, force: true });
    }
  }

  /** Deletes every container whose id starts with prefix (all of them without one). */
  async cleanup(prefix = ''): Promise<void> {
    for (const state of await this.engine.list()) {
      if (state.id.startsWith(prefix)) await this.engine.delete(state.id, true).catch(() => undefined);
    }
    await this.engine.gc().catch(() => undefined);
  }
}

/**
 * Returns the capped parent's limits: half the target's memory (at most 512 MiB) and 1024
 * tasks, so an attack without its own limit stays bounded and the harness
 * keeps room to work.
 */
export function capLimits(facts: TargetFacts): { memoryBytes: number; pids: number } {
  const mib = Math.min(512, Math.floor(facts.memoryMiB / 2));
  return { memoryBytes: mib * 1024 * 1024, pids: 1024 };
}
