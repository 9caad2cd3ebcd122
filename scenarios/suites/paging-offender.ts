// The paging scenario's offender: it thrashes past its memory.max for a
// while, then allocates past what the machine allows, so that its high, max
// and oom_kill events count (in the attack) or the machine's reclaim
// pushes the unprotected victim out (in the control).
import type { LinuxResources } from '../../engine/spec/oci.js';
import { atLeast } from '../framework/checks.js';
import { launch } from '../framework/bundle.js';
import { execWorkload } from '../framework/workload.js';
import { CgroupCounters, type MemoryEvents } from '../framework/counters.js';
import { inMachine, type MachineCgroup } from '../framework/machine.js';
import { pollUntilSettled, type Sampler } from '../framework/poll.js';
import type { PhaseResult, ScenarioContext } from '../framework/types.js';
import { PAGING, PAGING_LIMITS } from './paging.js';

const MiB = 1024 * 1024;

/** How the offender runs in one phase. */
export interface OffenderPlan {
  cgroupsPath: string;
  resources: LinuxResources;
  limited: boolean;
  version: 1 | 2;
  thrashMiB: number;
  /** Past the machine's memory plus swap, so that it cannot all fit anywhere. */
  hogMiB: number;
}

/** Returns the offender's plan: memory.max, memory.high and memory.swap.max when limited. */
export function offenderPlan(ctx: ScenarioContext, machine: MachineCgroup, version: 1 | 2,
  limited: boolean): OffenderPlan {
  const limits = PAGING_LIMITS[version];
  const resources: LinuxResources = {};
  if (limited) {
    const max = limits.offenderMaxMiB * MiB;
    resources.memory = { limit: max, swap: max + limits.offenderSwapMiB * MiB };
    if (limits.offenderHighMiB !== null) {
      resources.unified = { 'memory.high': String(limits.offenderHighMiB * MiB) };
    }
  }
  return {
    cgroupsPath: inMachine(ctx, machine, 'offender'),
    resources,
    limited,
    version,
    thrashMiB: limits.thrashMiB,
    hogMiB: limits.machineMiB + PAGING.machineSwapMiB + 32,
  };
}

async function settledEvents(counters: CgroupCounters): Promise<MemoryEvents> {
  const options = { timeoutMs: 5000, intervalMs: 100 };
  return (await pollUntilSettled(() => counters.memoryEvents(), options)).value;
}

/** Runs the offender to its end and records its events; adds offender checks when limited. */
export async function runOffender(ctx: ScenarioContext, plan: OffenderPlan, result: PhaseResult,
  sampler: Sampler, ids: string[]): Promise<void> {
  const offender = await launch(ctx, 'offender',
    { cgroupsPath: plan.cgroupsPath, resources: plan.resources });
  ids.push(offender);
  const counters = await CgroupCounters.open(plan.cgroupsPath);
  sampler.add('offenderMemoryCurrent', () => counters.memoryCurrent());
  const before = await settledEvents(counters);

  const thrashArgs = ['memthrash', String(plan.thrashMiB), String(PAGING.thrashSeconds)];
  const thrashMs = (PAGING.thrashSeconds + 120) * 1000;
  const thrashed = await execWorkload(ctx, offender, thrashArgs, thrashMs);
  const hog = await execWorkload(ctx, offender, ['memhog', String(plan.hogMiB)], 120_000);
  const after = await settledEvents(counters);
  const delta = (key: keyof MemoryEvents) => (after[key] ?? 0) - (before[key] ?? 0);
  Object.assign(result.metrics, {
    offenderThrashEnd: thrashed.signal ?? `exit ${thrashed.exitCode}`,
    offenderHogEnd: hog.signal ?? `exit ${hog.exitCode}`,
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
    atLeast('offender is OOM-killed in its own cgroup', delta('oom_kill'), 1, ' kills'),
  );
}
