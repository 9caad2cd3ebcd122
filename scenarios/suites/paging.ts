// Noisy-neighbour paging: the victim keeps a working set of W MiB hot, half
// file-backed on the work disk and half anonymous, while the offender
// allocates past its memory.max and past what the machine has, with swap
// on. On cgroup v2 the victim's memory.min protects the working set from
// the machine's reclaim. On v1, which has no memory.min, the offender's own
// limit leaves room for the victim's limit. The working set must stay
// resident: memory.current, refaults, major faults and the p99 latency of
// touching it. The control removes the protection and the offender's
// limit, so the offender's reclaim pushes the victim out.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { openCgroup } from '../../engine/cgroup/index.js';
import type { LinuxResources } from '../../engine/spec/oci.js';
import { atLeast, atMost } from '../framework/checks.js';
import { launch } from '../framework/bundle.js';
import { CgroupCounters } from '../framework/counters.js';
import { createMachine, inMachine, type MachineCgroup } from '../framework/machine.js';
import { phaseResult, ratio, since } from '../framework/phase.js';
import { Sampler, sleep } from '../framework/poll.js';
import type { CheckResult, Phase, PhaseResult, Scenario, ScenarioContext }
  from '../framework/types.js';
import { offenderPlan, runOffender } from './paging-offender.js';
import { acquireSwap, type SwapSpace } from './paging-swap.js';
import { measureVictim, type TouchWindow } from './paging-victim.js';
import { scenarios } from './index.js';

const MiB = 1024 * 1024;

/** Sizes and factors (see PAGING_LIMITS for the per-version limits). */
export const PAGING = {
  /** W: the victim's working set, file-backed plus anonymous, in MiB. */
  fileMiB: 24,
  anonMiB: 24,
  /** The victim's memory.min (v2) or memory.limit_in_bytes (v1): W plus its program. */
  protectionMiB: 56,
  /** Tolerance of the victim's memory.current below W (relative). */
  residentTolerance: 0.1,
  /** Pages the victim may refault (memory.stat workingset_refault_*) beside the offender. */
  refaultMax: 256,
  /** Major faults the victim's touch loop may take beside the offender. */
  majorFaultMax: 64,
  /** k: the p99 time of the victim's passes over W may be this many times its baseline. */
  latencyFactor: 5,
  /**
   * Pause between the victim's passes, in ms. Passes that refault come in
   * bursts while the machine reclaims, so with fewer passes a burst is more
   * than 1% of them and shows in the p99.
   */
  passPauseMs: 50,
  /** Length of the victim's run alone, in seconds. */
  baselineSeconds: 5,
  /** How long the offender thrashes before it allocates past everything, in seconds. */
  thrashSeconds: 10,
  /** Swap file made for the phase when the target has none, and the machine's swap bound. */
  swapFileMiB: 128,
  machineSwapMiB: 64,
  /** Bound of the restorer that turns a phase's swap file off, in seconds. */
  swapRestoreBoundSeconds: 600,
  sampleIntervalMs: 200,
} as const;

/**
 * Limits per cgroup version. On v2 the offender's memory.max while it
 * thrashes (96 MiB) is above what the machine leaves beside the victim's
 * protection (128 - 56), so the machine's reclaim must spare the victim.
 * For its last allocation the offender gets a memory.max (64 MiB) under
 * that, with memory.high 1 MiB below it. The kernel throttles allocations
 * in proportion to how far usage is over memory.high, and under TCG a
 * wider gap (16 MiB) kept the allocation from reaching memory.max in 120 s.
 * On v1 the offender's limit and the victim's fit in the machine from the
 * start.
 */
export const PAGING_LIMITS = {
  2: {
    machineMiB: 128,
    offenderMaxMiB: 96,
    offenderSwapMiB: 32,
    thrashMiB: 96,
    hogMaxMiB: 64,
    hogHighMiB: 63,
  },
  1: {
    machineMiB: 112,
    offenderMaxMiB: 48,
    offenderSwapMiB: 64,
    thrashMiB: 96,
    hogMaxMiB: 48,
    hogHighMiB: null,
  },
} as const;

function victimResources(version: 1 | 2, protectedVictim: boolean): LinuxResources {
  if (!protectedVictim) return {};
  const bytes = PAGING.protectionMiB * MiB;
  if (version === 2) return { unified: { 'memory.min': String(bytes) } };
  // memsw equal to the limit keeps the victim out of swap; the soft limit marks W as its share.
  const workingSet = (PAGING.fileMiB + PAGING.anonMiB) * MiB;
  return { memory: { limit: bytes, swap: bytes, reservation: workingSet } };
}

/**
 * Passes the victim's protection down on v2: a cgroup's memory.min counts
 * only as far as every ancestor's memory.min covers it, so the capped parent
 * and the machine get it too.
 */
async function protectAncestors(ctx: ScenarioContext, machine: MachineCgroup): Promise<void> {
  const value = String(PAGING.protectionMiB * MiB);
  for (const cgroupPath of [ctx.capParent, machine.path]) {
    await (await openCgroup(cgroupPath)).apply({ unified: { 'memory.min': value } });
  }
}

async function run(ctx: ScenarioContext, phase: Phase): Promise<PhaseResult> {
  const origin = performance.now();
  const version = ctx.facts.cgroupVersion;
  const limits = PAGING_LIMITS[version];
  const result = phaseResult(ctx, paging.name, phase, { ...PAGING, ...limits });
  const swap = phase === 'baseline'
    ? undefined
    : await acquireSwap(ctx, PAGING.swapFileMiB, PAGING.swapRestoreBoundSeconds);
  if (typeof swap === 'string') return { ...result, skipped: swap };
  result.metrics.swapSource = swap?.source ?? null;

  const machine = await createMachine(ctx, 'machine', {
    memory: {
      limit: limits.machineMiB * MiB,
      swap: (limits.machineMiB + PAGING.machineSwapMiB) * MiB,
    },
  });
  const ids: string[] = [];
  const sampler = new Sampler(origin, PAGING.sampleIntervalMs)
    .add('machineMemoryCurrent', () => machine.counters.memoryCurrent());
  try {
    const protectedVictim = phase !== 'control';
    if (version === 2 && protectedVictim) await protectAncestors(ctx, machine);
    const dataDir = path.join(ctx.workDir, 'victim');
    await fs.mkdir(dataDir, { recursive: true });
    const victim = await launch(ctx, 'victim', {
      cgroupsPath: inMachine(ctx, machine, 'victim'),
      writableBinds: { '/data': dataDir },
      resources: victimResources(version, protectedVictim),
    });
    ids.push(victim);
    const counters = await CgroupCounters.open(inMachine(ctx, machine, 'victim'));
    sampler.add('victimMemoryCurrent', () => counters.memoryCurrent()).start();

    const idle = () => sleep(PAGING.baselineSeconds * 1000);
    const alone = await measureVictim(ctx, victim, counters, sampler, origin, idle);
    const beside = await measureVictim(ctx, victim, counters, sampler, origin, async () => {
      if (phase === 'baseline') return idle();
      const plan = offenderPlan(ctx, machine, version, phase === 'attack');
      await runOffender(ctx, plan, result, sampler, ids);
    });
    Object.assign(result.metrics, prefixed(alone, 'victimAlone'), prefixed(beside, 'victim'));
    result.checks = victimChecks(alone, beside);
  } finally {
    await sampler.stop();
    Object.assign(result.samples, sampler.samples);
    await cleanup(ctx, ids, machine, swap);
  }
  result.wallMs = since(origin);
  return result;
}

/** Deletes the containers and the machine cgroup, then releases the phase's swap. */
async function cleanup(ctx: ScenarioContext, ids: string[], machine: MachineCgroup,
  swap: SwapSpace | undefined): Promise<void> {
  for (const id of ids) await ctx.engine.delete(id, true).catch(() => undefined);
  await machine.destroy().catch((err: Error) => {
    ctx.log(`removing cgroup ${machine.path} failed: ${err.message}`);
  });
  await swap?.release();
}

function victimChecks(alone: TouchWindow, beside: TouchWindow): CheckResult[] {
  const workingSet = (PAGING.fileMiB + PAGING.anonMiB) * MiB;
  const tolerance = PAGING.residentTolerance;
  const checks = [
    atLeast(`victim's memory.current stays at least W minus ${tolerance * 100}%`,
      beside.minMemoryCurrent, Math.round(workingSet * (1 - tolerance)), ' bytes'),
    atMost('victim takes few major faults while touching its working set',
      beside.majorFaults, PAGING.majorFaultMax, ' faults'),
    atMost(`victim's p99 touch latency is within ${PAGING.latencyFactor}x its baseline`,
      ratio(beside.p99Us, alone.p99Us), PAGING.latencyFactor, 'x'),
    atMost('victim has no OOM kills', beside.oomKills, 0, ' kills'),
  ];
  // memory.stat of some v1 kernels has no workingset_refault_* counters, so no check there.
  if (beside.refaults !== null) {
    checks.splice(1, 0, atMost('victim refaults few pages of its working set',
      beside.refaults, PAGING.refaultMax, ' pages'));
  }
  return checks;
}

/** Copies the numeric and string fields of an object into metric names with a prefix. */
function prefixed(source: object, prefix: string): Record<string, number | string | null> {
  const out: Record<string, number | string | null> = {};
  for (const [key, value] of Object.entries(source)) {
    if (typeof value !== 'number' && typeof value !== 'string' && value !== null) continue;
    out[`${prefix}${key[0].toUpperCase()}${key.slice(1)}`] = value;
  }
  return out;
}

export const paging: Scenario = {
  name: 'paging',
  title: 'Noisy-neighbour paging held by memory protection',
  unsupported(facts) {
    return facts.controllers.memory ? undefined : 'the kernel has no memory controller';
  },
  run,
};

scenarios.push(paging);
