// Per-group statistics: the engine's stats of each container match the
// kernel's cgroup files, and the victim's stay its own while a neighbour
// burns CPU, allocates memory and forks. Control: both containers' processes
// in one cgroup, where the victim's stats take in the neighbour's usage.
import { bundleDir, cappedPath, launch, writeBundle } from '../framework/bundle.js';
import { atMost, within } from '../framework/checks.js';
import { pollUntil, pollUntilSettled, Sampler, sampleDuring, sleep } from '../framework/poll.js';
import { CgroupCounters } from '../framework/counters.js';
import { cpuUsageReader } from '../framework/cpu.js';
import { moveProcesses } from '../framework/migrate.js';
import type {
  CheckResult, Phase, PhaseResult, Scenario, ScenarioContext,
} from '../framework/types.js';
import { skippedPhase } from '../framework/phase.js';
import { scenarios } from './index.js';

/** Memory the victim allocates and keeps, in MiB. */
const VICTIM_MIB = 16;
/** Memory the offender allocates and keeps, in MiB: three times the victim's, so a mix shows. */
const OFFENDER_MIB = 48;
/** memory.max of each container, in MiB: above what each allocates, so none is OOM-killed. */
const MEMORY_LIMIT_MIB = 128;
/** pids.max of each container. */
const PIDS_LIMIT = 64;
/** Busy processes in the offender. */
const OFFENDER_BUSY = 2;
/** Extra idle processes the offender forks. */
const OFFENDER_FORKS = 16;
/** How long workloads keep their memory and processes, in seconds; containers go first. */
const HOLD_SECONDS = 120;
/** Relative tolerance between the engine's stats and the kernel's files read around them. */
const MATCH_TOLERANCE = 0.05;
/** Relative tolerance of the victim's memory under load against its memory alone. */
const EXCLUDE_TOLERANCE = 0.25;
/** Most of the guest's CPU time the idle victim may show while the neighbour burns. */
const VICTIM_CPU_LIMIT = 0.05;
/** Window for a CPU rate, in ms. */
const CPU_WINDOW_MS = 2000;
/** Bound on memory and pids settling after a workload starts, in ms (TCG included). */
const SETTLE_TIMEOUT_MS = 20_000;
/** Bound on rereading until the engine's figures fall within the files' bracket, in ms. */
const MATCH_TIMEOUT_MS = 3000;
/** Interval of the victim's usage samples, in ms. */
const SAMPLE_INTERVAL_MS = 250;
const MIB = 1024 * 1024;

/** Usage as the kernel's files show it, read without the engine. */
interface KernelUsage { memory: number; cpuUsec: number; pids: number }

/** The same fields as the engine's stats report them. */
interface EngineUsage { memory: number; cpuUsec: number; pids: number }

/** Returns a reader of a cgroup's usage files, v2 or v1 per controller. */
async function kernelReader(cgroupPath: string): Promise<() => Promise<KernelUsage>> {
  const counters = await CgroupCounters.open(cgroupPath);
  const cpuUsec = await cpuUsageReader(cgroupPath);
  return async () => ({
    memory: (await counters.memoryCurrent()) ?? NaN,
    cpuUsec: await cpuUsec(),
    pids: (await counters.pidsCurrent()) ?? NaN,
  });
}

async function engineUsage(ctx: ScenarioContext, id: string): Promise<EngineUsage> {
  const { cgroup } = await ctx.engine.stats(id);
  return {
    memory: cgroup.memory?.usage ?? NaN,
    cpuUsec: cgroup.cpu?.usageUsec ?? NaN,
    pids: cgroup.pids?.current ?? NaN,
  };
}

/**
 * Reads the kernel's files, the engine's stats and the files again. Each
 * engine figure is compared with the nearest value in the range of the two
 * file reads around it, so a counter that moved between the reads does not
 * count as a mismatch. Rounds repeat until all match or a bound passes, and
 * the checks of the last round are returned.
 */
async function matchChecks(
  ctx: ScenarioContext,
  role: string,
  id: string,
): Promise<CheckResult[]> {
  const read = await kernelReader((await ctx.engine.state(id)).cgroupPath);
  const round = async () => {
    const first = await read();
    const engine = await engineUsage(ctx, id);
    const second = await read();
    const nearest = (key: keyof KernelUsage) => {
      const low = Math.min(first[key], second[key]);
      const high = Math.max(first[key], second[key]);
      return Math.round(Math.min(Math.max(engine[key], low), high));
    };
    return [
      within(`${role}'s engine memory usage matches the cgroup file`,
        engine.memory, nearest('memory'), MATCH_TOLERANCE, ' B'),
      within(`${role}'s engine CPU usage matches the cgroup file`,
        engine.cpuUsec, nearest('cpuUsec'), MATCH_TOLERANCE, ' us'),
      within(`${role}'s engine pids.current matches the cgroup file`,
        engine.pids, nearest('pids'), MATCH_TOLERANCE),
    ];
  };
  const all = (checks: CheckResult[]) => checks.every((c) => c.pass);
  return (await pollUntil(round, all, { timeoutMs: MATCH_TIMEOUT_MS, intervalMs: 100 })).value;
}

/** A container's settled memory and pids and its CPU rate, from the engine's stats. */
interface Footprint { memory: number; pids: number; cpuShare: number }

async function footprint(ctx: ScenarioContext, id: string): Promise<Footprint> {
  // Memory is compared in whole MiB: page cache and allocator noise move the bytes.
  const settled = await pollUntilSettled(async () => {
    const usage = await engineUsage(ctx, id);
    return { mib: Math.round(usage.memory / MIB), pids: usage.pids };
  }, { timeoutMs: SETTLE_TIMEOUT_MS, intervalMs: 200, stableReads: 3 });
  const start = await engineUsage(ctx, id);
  const t0 = performance.now();
  await sleep(CPU_WINDOW_MS);
  const end = await engineUsage(ctx, id);
  const wallUsec = (performance.now() - t0) * 1000;
  const cpuShare = (end.cpuUsec - start.cpuUsec) / (wallUsec * ctx.facts.cpus);
  return { memory: end.memory, pids: settled.value.pids, cpuShare };
}

/** Waits until a container's memory reaches `mib` MiB or the bound passes. */
async function waitForMemory(ctx: ScenarioContext, id: string, mib: number): Promise<void> {
  await pollUntil(() => engineUsage(ctx, id), (u) => u.memory >= mib * MIB,
    { timeoutMs: SETTLE_TIMEOUT_MS, intervalMs: 200 });
}

/**
 * Starts the offender's load: memory kept by init, busy processes and forks
 * by exec. With `into` (the control), every offender process moves into
 * that cgroup: init before it starts, so that its memory is charged there,
 * and the exec'd processes right after they start.
 */
async function startOffender(ctx: ScenarioContext, into: string | undefined): Promise<string> {
  const id = `${ctx.prefix}-offender`;
  const cgroupsPath = cappedPath(ctx, id);
  const dir = await writeBundle(bundleDir(ctx, id), {
    rootfs: ctx.rootfs,
    args: ['holdmem', String(OFFENDER_MIB), String(HOLD_SECONDS)],
    resources: { memory: { limit: MEMORY_LIMIT_MIB * MIB }, pids: { limit: PIDS_LIMIT } },
    cgroupsPath,
  });
  await ctx.engine.create(id, dir);
  if (into) await moveProcesses(cgroupsPath, into);
  await ctx.engine.start(id);

  const workloads = [
    ...Array.from({ length: OFFENDER_BUSY }, () => ['spin', String(HOLD_SECONDS)]),
    ['forker', String(OFFENDER_FORKS), String(HOLD_SECONDS)],
  ];
  for (const args of workloads) {
    // They end with the container; their exit status does not matter.
    void (await ctx.engine.exec(id, args)).done.catch(() => undefined);
  }
  if (into) await moveProcesses(cgroupsPath, into);
  return id;
}

function exclusionChecks(alone: Footprint, loaded: Footprint): CheckResult[] {
  return [
    within('victim\'s memory usage beside the neighbour is its own',
      loaded.memory, alone.memory, EXCLUDE_TOLERANCE, ' B'),
    within('victim\'s pids.current beside the neighbour is its own', loaded.pids, alone.pids, 0),
    atMost('victim\'s CPU usage stays idle while the neighbour burns',
      round(loaded.cpuShare), VICTIM_CPU_LIMIT),
  ];
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

/** Measurements of one phase: the victim alone and beside the neighbour, and the checks. */
interface Measured {
  alone: Footprint;
  loaded: Footprint;
  checks: CheckResult[];
  offenderChecks: CheckResult[];
}

/** Measures the victim alone, starts the neighbour (not in the baseline), measures again. */
async function measure(ctx: ScenarioContext, phase: Phase, victim: string): Promise<Measured> {
  await waitForMemory(ctx, victim, VICTIM_MIB);
  const alone = await footprint(ctx, victim);
  let offender: string | undefined;
  if (phase !== 'baseline') {
    // In the control the offender's processes move into the victim's cgroup.
    const shared = phase === 'control';
    offender = await startOffender(ctx, shared ? cappedPath(ctx, victim) : undefined);
    if (shared) await waitForMemory(ctx, victim, VICTIM_MIB + OFFENDER_MIB);
    else await waitForMemory(ctx, offender, OFFENDER_MIB);
  }
  const loaded = await footprint(ctx, victim);
  const checks = [...await matchChecks(ctx, 'victim', victim), ...exclusionChecks(alone, loaded)];
  const offenderChecks = phase === 'attack' && offender
    ? await matchChecks(ctx, 'offender', offender)
    : [];
  return { alone, loaded, checks, offenderChecks };
}

async function run(ctx: ScenarioContext, phase: Phase): Promise<PhaseResult> {
  const origin = performance.now();
  const victim = await launch(ctx, 'victim', {
    args: ['holdmem', String(VICTIM_MIB), String(HOLD_SECONDS)],
    resources: { memory: { limit: MEMORY_LIMIT_MIB * MIB }, pids: { limit: PIDS_LIMIT } },
  });
  if (!(await ctx.engine.stats(victim)).cgroup.cpu) {
    return skippedPhase('stats', phase, 'the kernel offers no CPU usage file (cpu.stat or cpuacct.usage)');
  }
  const sampler = new Sampler(origin, SAMPLE_INTERVAL_MS)
    .add('victimMemoryBytes', async () => (await engineUsage(ctx, victim)).memory)
    .add('victimCpuUsec', async () => (await engineUsage(ctx, victim)).cpuUsec)
    .add('victimPids', async () => (await engineUsage(ctx, victim)).pids);
  const { alone, loaded, checks, offenderChecks } =
    await sampleDuring(sampler, () => measure(ctx, phase, victim));
  return {
    scenario: 'stats',
    phase,
    checks,
    offenderChecks,
    metrics: {
      VICTIM_MIB, OFFENDER_MIB, MEMORY_LIMIT_MIB, PIDS_LIMIT, OFFENDER_BUSY, OFFENDER_FORKS,
      HOLD_SECONDS, MATCH_TOLERANCE, EXCLUDE_TOLERANCE, VICTIM_CPU_LIMIT, CPU_WINDOW_MS,
      SETTLE_TIMEOUT_MS, MATCH_TIMEOUT_MS, SAMPLE_INTERVAL_MS,
      cpus: ctx.facts.cpus,
      victimMemoryAlone: alone.memory,
      victimPidsAlone: alone.pids,
      victimCpuShareAlone: alone.cpuShare,
      victimMemoryLoaded: loaded.memory,
      victimPidsLoaded: loaded.pids,
      victimCpuShareLoaded: loaded.cpuShare,
    },
    samples: sampler.samples,
    wallMs: Math.round(performance.now() - origin),
  };
}

export const stats: Scenario = {
  name: 'stats',
  title: 'Per-group statistics match the cgroup files and exclude the neighbour',
  unsupported: (facts) => {
    const missing = ['memory', 'pids', 'cpu'].filter((c) => !facts.controllers[c]);
    return missing.length ? `the kernel lacks the ${missing.join(', ')} controller` : undefined;
  },
  run,
};

scenarios.push(stats);
