// CPU share per group: "more processes get more CPU" is true between
// processes, not between groups. With equal weights a victim group running
// one busy process gets half the guest's CPU time next to an offender group
// running N, and cpu.max caps the offender at its quota. Control: all N+1 processes
// in one group, where the victim gets about 1/(N+1).
import { launch } from '../framework/bundle.js';
import { moveProcesses } from '../framework/migrate.js';
import { atLeast, within } from '../framework/checks.js';
import { cpuUsageReader, machineCpuUsageReader } from '../framework/cpu.js';
import type {
  CheckResult, Phase, PhaseResult, Scenario, ScenarioContext, Series,
} from '../framework/types.js';
import {
  MAX_WINDOWS, MIN_WINDOWS, SETTLE_DELTA, WARMUP_MS, WINDOW_MS,
  measureShares, processCounter, type Counter,
} from './cpushare-shares.js';
import { skippedPhase } from '../framework/phase.js';
import { scenarios } from './index.js';

/** Minimum number N of busy offender processes. With more CPUs, N grows to 2 * cpus - 1. */
const MIN_OFFENDER_PROCESSES = 3;
/** Relative tolerance below the expected victim share. */
const SHARE_TOLERANCE = 0.15;
/** Relative tolerance of the offender's usage around its cpu.max quota. */
const QUOTA_TOLERANCE = 0.10;
/** The offender's cpu.max quota in CPUs (quota / period). */
const OFFENDER_QUOTA_CPUS = 0.5;
const PERIOD_USEC = 100_000;
/** cpu.shares of both groups (cpu.weight 100 on v2): equal weights. */
const SHARES = 1024;
/** Wall time of each busy process, in seconds. Containers are deleted long before it ends. */
const SPIN_SECONDS = 120;

/** N: enough busy processes that N+1 of them in one group leave the victim under its share. */
function offenderProcesses(cpus: number): number {
  return Math.max(MIN_OFFENDER_PROCESSES, 2 * cpus - 1);
}

/**
 * Returns the victim's share with equal group weights: half the guest's CPU
 * time, but never more than one process can use (one CPU of `cpus`).
 */
function expectedVictimShare(cpus: number): number {
  return Math.min(0.5, 1 / cpus);
}

/** CPU time of a container's cgroup: cpu.stat usage_usec on v2, cpuacct.usage on v1. */
async function groupCounter(ctx: ScenarioContext, id: string): Promise<Counter> {
  return cpuUsageReader((await ctx.engine.state(id)).cgroupPath);
}

/** Starts N busy processes in a running container by exec; they end with it. */
async function startBusy(ctx: ScenarioContext, id: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const handle = await ctx.engine.exec(id, ['spin', String(SPIN_SECONDS)]);
    void handle.done.catch(() => undefined);
  }
}

/**
 * Builds the victim's checks, which are the same in every phase.
 * NOTE: TCG guests (Debian 6.1, 2 vCPUs) on a 2-core host busy with other VMs
 * measured attack shares of 0.41 to 0.46 against the limit of 0.425. An idle
 * 2-core host (Linux 6.18, cgroup v1) measured 0.49 to 0.50.
 */
function victimChecks(share: number, cpus: number): CheckResult[] {
  const expected = expectedVictimShare(cpus);
  const check = atLeast(
    'victim group with 1 busy process gets at least half the guest\'s CPU time',
    round(share), round(expected * (1 - SHARE_TOLERANCE)));
  return [{ ...check, expected, error: Math.abs(share - expected) / expected }];
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

/** The phase's containers: the victim's spin and, after the baseline, the offender's N. */
interface Containers { victim: string; victimPid: number; offender: string | undefined }

async function startContainers(
  ctx: ScenarioContext,
  phase: Phase,
  n: number,
): Promise<Containers> {
  const resources = { cpu: { shares: SHARES } };
  const victim = await launch(ctx, 'victim', { args: ['spin', String(SPIN_SECONDS)], resources });
  const victimPid = (await ctx.engine.state(victim)).pid;
  let offender: string | undefined;
  if (phase !== 'baseline') {
    offender = await launch(ctx, 'offender', { resources });
    await startBusy(ctx, offender, n);
  }
  if (offender && phase === 'control') {
    // All N+1 busy processes in one group: the offender's move into the victim's.
    const from = (await ctx.engine.state(offender)).cgroupPath;
    await moveProcesses(from, (await ctx.engine.state(victim)).cgroupPath);
  }
  return { victim, victimPid, offender };
}

/**
 * Measures the shares of the victim's group and process, the offender's
 * group and the whole guest. The victim's CPU time comes from its cgroup's
 * counter where the group contains only the victim's process. In the
 * control that counter includes the offender, so the process's own counter
 * is what tells them apart.
 */
async function measurePhase(
  ctx: ScenarioContext,
  phase: Phase,
  containers: Containers,
  origin: number,
  samples: Record<string, Series>,
): Promise<Record<string, number>> {
  const counters: Record<string, Counter> = {
    victimGroup: await groupCounter(ctx, containers.victim),
    victimProcess: processCounter(containers.victimPid),
  };
  if (containers.offender) counters.offenderGroup = await groupCounter(ctx, containers.offender);
  // Everything that ran, the harness, kernel threads and other processes included.
  const machine = await machineCpuUsageReader();
  if (machine) counters.guestBusy = machine;
  const focus = phase === 'control' ? 'victimProcess' : 'victimGroup';
  const shares = await measureShares(counters, focus, ctx.facts.cpus, origin, samples);
  return { ...shares, victim: shares[focus] };
}

function metricsOf(
  shares: Record<string, number>,
  cpus: number,
  n: number,
): PhaseResult['metrics'] {
  const groups = shares.victimGroup + (shares.offenderGroup ?? 0);
  return {
    MIN_OFFENDER_PROCESSES, SHARE_TOLERANCE, QUOTA_TOLERANCE, OFFENDER_QUOTA_CPUS, PERIOD_USEC,
    SHARES, WARMUP_MS, WINDOW_MS, MIN_WINDOWS, MAX_WINDOWS, SETTLE_DELTA, SPIN_SECONDS,
    cpus,
    offenderProcesses: n,
    expectedVictimShare: expectedVictimShare(cpus),
    controlExpectedShare: controlShare(cpus, n),
    victimShare: shares.victim,
    victimGroupShare: shares.victimGroup,
    victimProcessShare: shares.victimProcess,
    offenderGroupShare: shares.offenderGroup ?? null,
    victimShareOfGroups: shares.victim / groups,
    guestBusyShare: shares.guestBusy ?? null,
    outsideGroupsShare: shares.guestBusy === undefined ? null : shares.guestBusy - groups,
  };
}

/** Returns the victim's share with all N+1 busy processes in one group. */
function controlShare(cpus: number, n: number): number {
  return Math.min(1 / cpus, 1 / (n + 1));
}

async function run(ctx: ScenarioContext, phase: Phase): Promise<PhaseResult> {
  const origin = performance.now();
  const { cpus } = ctx.facts;
  const n = offenderProcesses(cpus);
  const samples: Record<string, Series> = {};
  const containers = await startContainers(ctx, phase, n);
  if (!(await ctx.engine.stats(containers.victim)).cgroup.cpu) {
    return skip(phase, 'the kernel offers no CPU usage file (cpu.stat or cpuacct.usage)', origin);
  }
  const shares = await measurePhase(ctx, phase, containers, origin, samples);
  const metrics = metricsOf(shares, cpus, n);

  const offenderChecks: CheckResult[] = [];
  if (containers.offender && phase === 'attack') {
    offenderChecks.push(await quotaCheck(ctx, containers, cpus, origin, samples, metrics));
  }
  if (phase === 'control') {
    // Recorded for the report; only attack-phase offender checks are judged.
    offenderChecks.push(within('victim gets about 1/(N+1) of the guest\'s CPU time in one group',
      round(shares.victim), round(controlShare(cpus, n)), SHARE_TOLERANCE));
  }
  return {
    scenario: 'cpushare',
    phase,
    checks: victimChecks(shares.victim, cpus),
    offenderChecks,
    metrics,
    samples,
    wallMs: Math.round(performance.now() - origin),
  };
}

/** Sets cpu.max on the offender and checks that its usage settles at the quota. */
async function quotaCheck(
  ctx: ScenarioContext,
  { offender, victim }: Containers,
  cpus: number,
  origin: number,
  samples: Record<string, Series>,
  metrics: PhaseResult['metrics'],
): Promise<CheckResult> {
  await ctx.engine.update(offender!, {
    cpu: { quota: Math.round(OFFENDER_QUOTA_CPUS * PERIOD_USEC), period: PERIOD_USEC },
  });
  const counters = {
    offenderCapped: await groupCounter(ctx, offender!),
    victimBesideCapped: await groupCounter(ctx, victim),
  };
  const shares = await measureShares(counters, 'offenderCapped', cpus, origin, samples);
  const usedCpus = shares.offenderCapped * cpus;
  metrics.offenderCappedCpus = usedCpus;
  metrics.victimBesideCappedShare = shares.victimBesideCapped;
  return within('offender under cpu.max uses its quota', round(usedCpus), OFFENDER_QUOTA_CPUS,
    QUOTA_TOLERANCE, ' CPUs');
}

function skip(phase: Phase, reason: string, origin: number): PhaseResult {
  return { ...skippedPhase('cpushare', phase, reason), wallMs: Math.round(performance.now() - origin) };
}

export const cpushare: Scenario = {
  name: 'cpushare',
  title: 'CPU share per group: one busy process against N with equal weights',
  unsupported: (facts) => (facts.controllers.cpu ? undefined : 'the kernel has no cpu controller'),
  run,
};

scenarios.push(cpushare);
