// The paging scenario's offender, in two stages. First it thrashes: it
// allocates more than the machine leaves it and writes its pages over and
// over, so the machine's reclaim runs for seconds. On v2 its memory.max is
// above what the machine leaves, so only the victim's memory.min keeps
// reclaim off the victim. Then it allocates past its memory.max and past
// what the machine allows, so that its high, max and oom_kill events count.
// In the control it has no limits, and the machine's reclaim takes the
// unprotected victim's pages.
import type { LinuxResources } from '../../engine/spec/oci.js';
import { atLeast } from '../framework/checks.js';
import { launch } from '../framework/bundle.js';
import { CgroupCounters, type MemoryEvents } from '../framework/counters.js';
import { inMachine, type MachineCgroup } from '../framework/machine.js';
import { pollUntilSettled, type Sampler } from '../framework/poll.js';
import type { PhaseResult, ScenarioContext } from '../framework/types.js';
import { execWorkload } from '../framework/workload.js';
import { PAGING, PAGING_LIMITS } from './paging.js';

const MiB = 1024 * 1024;

/** The offender's limits and sizes in one phase. */
export interface OffenderPlan {
  cgroupsPath: string;
  /** Limits while it thrashes; none in the control. */
  thrashResources: LinuxResources;
  /** Limits while it allocates past everything; none in the control. */
  hogResources?: LinuxResources;
  limited: boolean;
  version: 1 | 2;
  thrashMiB: number;
  /** Past the machine's memory plus swap, so that it cannot all fit anywhere. */
  hogMiB: number;
}

function memoryLimits(maxMiB: number, highMiB: number | null, swapMiB: number): LinuxResources {
  const max = maxMiB * MiB;
  const resources: LinuxResources = { memory: { limit: max, swap: max + swapMiB * MiB } };
  resources.unified = { 'memory.high': highMiB === null ? 'max' : String(highMiB * MiB) };
  return resources;
}

/** Returns the offender's plan for one phase. */
export function offenderPlan(ctx: ScenarioContext, machine: MachineCgroup, version: 1 | 2,
  limited: boolean): OffenderPlan {
  const limits = PAGING_LIMITS[version];
  const plan: OffenderPlan = {
    cgroupsPath: inMachine(ctx, machine, 'offender'),
    thrashResources: {},
    limited,
    version,
    thrashMiB: limits.thrashMiB,
    hogMiB: limits.machineMiB + PAGING.machineSwapMiB + 32,
  };
  if (!limited) return plan;
  if (version === 1) {
    // v1 has no memory.high, so the one limit applies in both stages.
    const max = limits.offenderMaxMiB * MiB;
    plan.thrashResources = { memory: { limit: max, swap: max + limits.offenderSwapMiB * MiB } };
    return plan;
  }
  plan.thrashResources = memoryLimits(limits.offenderMaxMiB, null, limits.offenderSwapMiB);
  plan.hogResources = memoryLimits(limits.hogMaxMiB, limits.hogHighMiB, limits.offenderSwapMiB);
  return plan;
}

async function settledEvents(counters: CgroupCounters): Promise<MemoryEvents> {
  const options = { timeoutMs: 5000, intervalMs: 100 };
  return (await pollUntilSettled(() => counters.memoryEvents(), options)).value;
}

/** Runs both stages of the offender and records its events; adds offender checks when limited. */
export async function runOffender(ctx: ScenarioContext, plan: OffenderPlan, result: PhaseResult,
  sampler: Sampler, ids: string[]): Promise<void> {
  const offender = await launch(ctx, 'offender',
    { cgroupsPath: plan.cgroupsPath, resources: plan.thrashResources });
  ids.push(offender);
  const counters = await CgroupCounters.open(plan.cgroupsPath);
  sampler.add('offenderMemoryCurrent', () => counters.memoryCurrent());
  const before = await settledEvents(counters);

  const thrashArgs = ['memthrash', String(plan.thrashMiB), String(PAGING.thrashSeconds)];
  const thrashMs = (PAGING.thrashSeconds + 120) * 1000;
  const thrashed = await execWorkload(ctx, offender, thrashArgs, thrashMs);
  result.metrics.offenderThrashEnd = thrashed.signal ?? `exit ${thrashed.exitCode}`;
  if (plan.hogResources) await ctx.engine.update(offender, plan.hogResources);
  const hog = await execWorkload(ctx, offender, ['memhog', String(plan.hogMiB)], 120_000);
  result.metrics.offenderHogEnd = hog.signal ?? `exit ${hog.exitCode}`;

  const after = await settledEvents(counters);
  const delta = (key: keyof MemoryEvents) => (after[key] ?? 0) - (before[key] ?? 0);
  Object.assign(result.metrics, {
    offenderHighEvents: plan.version === 2 ? delta('high') : null,
    offenderMaxEvents: delta('max'),
    offenderOomKills: delta('oom_kill'),
  });
  if (!plan.limited) return;
  if (plan.version === 2) {
    result.offenderChecks.push(
      atLeast('offender memory.events high counts throttling', delta('high'), 1, ' events'));
  }
  result.offenderChecks.push(
    atLeast('offender memory events count its memory.max being hit', delta('max'), 1, ' events'),
    atLeast('offender is OOM-killed', delta('oom_kill'), 1, ' kills'),
  );
}
