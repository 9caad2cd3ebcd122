// Fork bomb: an offender held at pids.max = N forks in a tight loop while
// a victim forks and execs K children. The victim must see no EAGAIN and
// finish within k times its baseline time, the offender must stay at or
// under N with pids.events max counting the refused forks, and killing the
// offender's cgroup must empty it within 1 s. The control removes pids.max
// and gives the machine a small pid space (kernel.pid_max), which the bomb
// exhausts, so the victim's forks fail with EAGAIN.
import { atLeast, atMost } from '../framework/checks.js';
import { launch, lastJsonLine, type LaunchOptions } from '../framework/bundle.js';
import { CgroupCounters } from '../framework/counters.js';
import { phaseResult, ratio, since } from '../framework/phase.js';
import { quantile } from '../framework/poll.js';
import type { CheckResult, Phase, PhaseResult, Scenario, ScenarioContext, Series }
  from '../framework/types.js';
import { startWorkload, type WorkloadResult } from '../framework/workload.js';
import { attack } from './forkbomb-attack.js';
import { isDisposableTarget, pidMaxScope, setNamespacePidMax } from './forkbomb-pidmax.js';
import { scenarios } from './index.js';

/**
 * Sizes and factors. Measured on Debian 6.1 under TCG with 2 vCPUs, the
 * victim's 100 forks and execs take 2.7 to 3.4 s alone and 2.2 times that
 * beside the bomb. cgroup.kill empties the bomb's cgroup in 260 to 380 ms.
 */
export const FORKBOMB = {
  /** N: the offender's pids.max. */
  pidsMax: 64,
  /** K: children the victim forks and execs, one after another. */
  victimChildren: 100,
  /** Runs of the victim alone whose median is the baseline time. */
  baselineRuns: 3,
  /** k: the victim's time beside the offender may be this many times its baseline. */
  timeFactor: 4,
  /** Bound of the offender's cgroup emptying after cgroup.kill (or freezer plus SIGKILL), ms. */
  killBoundMs: 1000,
  /** The bomb's own bounds: forks in total, and lifetime in seconds. */
  bombTasks: 900,
  bombSeconds: 40,
  /** Control: pid_max inside the pid namespace that is the machine (Linux 6.14+). */
  namespacePidMax: 400,
  /** Control on kernels with a host-wide pid_max: unused pids left below the lowered value. */
  globalFreePids: 200,
  /** Control: the restorer writes the old pid_max back after this many seconds at the latest. */
  restoreBoundSeconds: 30,
  /** Bound of waiting until the bomb fills its pid space, in ms. */
  saturateTimeoutMs: 20_000,
  sampleIntervalMs: 100,
} as const;

/** The spawner workload's JSON line. */
export interface SpawnerReport {
  attempts: number;
  ok: number;
  eagain: number;
  otherErrors: number;
  firstErrno: string;
  ms: number;
}

/** Returns the spawner's report; a run without one counts as K failed children. */
export function reportOf(result: WorkloadResult): SpawnerReport {
  const report = lastJsonLine<SpawnerReport>(result.stdout);
  if (report) return report;
  const k = FORKBOMB.victimChildren;
  const end = result.signal ?? `exit ${result.exitCode}`;
  const why = `no report (${end}): ${result.stderr.trim()}`;
  return { attempts: k, ok: 0, eagain: 0, otherErrors: k, firstErrno: why, ms: Infinity };
}

async function runVictim(ctx: ScenarioContext, id: string): Promise<SpawnerReport> {
  const args = ['spawner', String(FORKBOMB.victimChildren)];
  return reportOf(await (await startWorkload(ctx, id, args, 120_000)).done);
}

/** The launch options of a phase's containers and the scope of its lowered pid_max. */
export interface Layout {
  victim: LaunchOptions;
  offender: LaunchOptions;
  scope?: 'namespace' | 'global';
}

/**
 * Plans the control's pid space. On Linux 6.14+ a "machine" container owns
 * a pid namespace with a small pid_max, and victim and offender join it.
 * Elsewhere the host's pid_max is lowered, which only a disposable VM allows.
 */
async function controlLayout(ctx: ScenarioContext): Promise<Layout | string> {
  if (pidMaxScope(ctx.facts.kernelRelease) === 'global') {
    if (!(await isDisposableTarget())) {
      return `kernel ${ctx.facts.kernelRelease} has one host-wide kernel.pid_max (one per pid `
        + 'namespace only since Linux 6.14), and this machine is not a disposable VM';
    }
    return { victim: {}, offender: {}, scope: 'global' };
  }
  const machine = await launch(ctx, 'machine', {
    extraCaps: ['CAP_SYS_ADMIN'],
    // The default list without /proc/sys, so that pid_max can be written.
    readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sysrq-trigger'],
  });
  await setNamespacePidMax(ctx, machine, FORKBOMB.namespacePidMax);
  const joinPaths = { pid: `/proc/${(await ctx.engine.state(machine)).pid}/ns/pid` };
  return { victim: { joinPaths }, offender: { joinPaths }, scope: 'namespace' };
}

async function run(ctx: ScenarioContext, phase: Phase): Promise<PhaseResult> {
  const origin = performance.now();
  const result = phaseResult(ctx, forkBomb.name, phase, FORKBOMB);
  const layout = phase === 'control' ? await controlLayout(ctx) : { victim: {}, offender: {} };
  if (typeof layout === 'string') return { ...result, skipped: layout };
  result.metrics.pidMaxScope = layout.scope ?? null;

  const victim = await launch(ctx, 'victim', layout.victim);
  const runs: number[] = [];
  const runMs: Series = [];
  result.samples.victimRunMs = runMs;
  for (let i = 0; i < FORKBOMB.baselineRuns; i++) {
    const report = await runVictim(ctx, victim);
    runs.push(report.ms);
    runMs.push([since(origin), report.ms]);
  }
  const baselineMs = quantile(runs, 0.5);
  result.metrics.victimBaselineMs = baselineMs;

  let report: SpawnerReport;
  if (phase === 'baseline') {
    report = await runVictim(ctx, victim);
  } else {
    const offender = await launch(ctx, 'offender', {
      ...layout.offender,
      resources: phase === 'attack' ? { pids: { limit: FORKBOMB.pidsMax } } : {},
    });
    const counters = await CgroupCounters.open((await ctx.engine.state(offender)).cgroupPath);
    report = await attack({ ctx, phase, victim, offender, counters, layout, result, origin });
  }
  runMs.push([since(origin), report.ms]);
  Object.assign(result.metrics, {
    victimMs: report.ms,
    victimOk: report.ok,
    victimEagain: report.eagain,
    victimOtherErrors: report.otherErrors,
    victimFirstErrno: report.firstErrno,
  });
  result.checks = victimChecks(report, baselineMs);
  result.wallMs = since(origin);
  return result;
}

function victimChecks(report: SpawnerReport, baselineMs: number): CheckResult[] {
  const k = FORKBOMB.victimChildren;
  return [
    atLeast(`victim forks and execs ${k} children`, report.ok, k, ' children'),
    atMost('victim sees no EAGAIN from fork', report.eagain, 0, ' EAGAIN'),
    atMost(`victim's time is within ${FORKBOMB.timeFactor}x its baseline`,
      ratio(report.ms, baselineMs), FORKBOMB.timeFactor, 'x'),
  ];
}

export const forkBomb: Scenario = {
  name: 'forkbomb',
  title: 'Fork bomb held at pids.max',
  unsupported(facts) {
    return facts.controllers.pids ? undefined : 'the kernel has no pids controller';
  },
  run,
};

scenarios.push(forkBomb);
