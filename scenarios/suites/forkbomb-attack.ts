// The fork bomb's attack and control: the victim waits for a signal, the
// bomb fills its pid space, the victim runs, and the bomb's cgroup is killed.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { atLeast, atMost } from '../framework/checks.js';
import type { CgroupCounters } from '../framework/counters.js';
import { pollUntil, pollUntilSettled, sampleDuring, Sampler, seriesMax, sleep }
  from '../framework/poll.js';
import type { Phase, PhaseResult, ScenarioContext } from '../framework/types.js';
import { startWorkload } from '../framework/workload.js';
import { FORKBOMB, reportOf, type Layout, type SpawnerReport } from './forkbomb.js';
import { GlobalPidMax } from './forkbomb-pidmax.js';

/** The containers and records of one attack or control phase. */
export interface AttackRun {
  ctx: ScenarioContext;
  phase: Phase;
  victim: string;
  offender: string;
  /** The offender's cgroup. */
  counters: CgroupCounters;
  layout: Layout;
  result: PhaseResult;
  origin: number;
}

/**
 * Starts the victim waiting for SIGUSR1, then the bomb, and lets the victim
 * run once the bomb fills its pid space. Nothing forks on the host between
 * lowering a host-wide pid_max and restoring it: the victim is already
 * running, and cgroup.kill and the counters are file writes and reads.
 */
export async function attack(run: AttackRun): Promise<SpawnerReport> {
  const { ctx, counters, result } = run;
  const limited = run.phase === 'attack';
  const sampler = new Sampler(run.origin, FORKBOMB.sampleIntervalMs)
    .add('offenderPidsCurrent', () => counters.pidsCurrent())
    .add('offenderPidsEventsMax', () => counters.pidsMaxEvents());
  const victimArgs = ['spawner', String(FORKBOMB.victimChildren), 'wait'];
  const waiting = await startWorkload(ctx, run.victim, victimArgs, 120_000);
  await waiting.waitForLine(/"ready"/, 30_000);

  let pidMax: GlobalPidMax | undefined;
  try {
    if (run.layout.scope === 'global') {
      const { globalFreePids, restoreBoundSeconds } = FORKBOMB;
      pidMax = await GlobalPidMax.lower(ctx, globalFreePids, restoreBoundSeconds);
      result.metrics.globalPidMax = pidMax.value;
      result.metrics.globalPidMaxBefore = pidMax.previous;
    }
    return await sampleDuring(sampler, async () => {
      const bombArgs = ['forkbomb', String(FORKBOMB.bombTasks), String(FORKBOMB.bombSeconds)];
      const bombBoundMs = (FORKBOMB.bombSeconds + 10) * 1000;
      const bomb = await startWorkload(ctx, run.offender, bombArgs, bombBoundMs);
      const saturated = await saturate(counters, limited);
      result.metrics.offenderSaturatedPids = saturated.value ?? null;
      result.metrics.offenderSaturated = saturated.met;
      result.metrics.offenderSaturateMs = Math.round(saturated.elapsedMs);

      waiting.signal('SIGUSR1');
      const report = reportOf(await waiting.done);
      await killOffender(run);
      await pidMax?.restore();
      await bomb.done;
      return report;
    });
  } finally {
    await pidMax?.restore();
    if (pidMax) result.metrics.globalPidMaxAfter = await pidMax.current();
    waiting.signal('SIGKILL');
    Object.assign(result.samples, sampler.samples);
    if (limited) offenderChecks(result);
  }
}

/** Waits until the bomb has filled its pid space: pids.max when limited, or a settled count. */
async function saturate(counters: CgroupCounters, limited: boolean) {
  if (limited) {
    const full = (n: number | undefined) => (n ?? 0) >= FORKBOMB.pidsMax;
    return pollUntil(() => counters.pidsCurrent(), full,
      { timeoutMs: FORKBOMB.saturateTimeoutMs, intervalMs: 50 });
  }
  // The count stops rising once every pid is taken, so three equal reads 250 ms apart settle it.
  await sleep(500);
  return pollUntilSettled(() => counters.pidsCurrent(),
    { timeoutMs: FORKBOMB.saturateTimeoutMs, intervalMs: 250, stableReads: 3 });
}

/** Kills the offender's cgroup while the bomb runs and measures how long it takes to empty. */
async function killOffender(run: AttackRun): Promise<void> {
  const { counters, result } = run;
  const started = performance.now();
  const killed = await counters.cgroup.killAll(10_000).then(() => true, () => false);
  const empty = await pollUntil(() => counters.cgroup.pids(), (pids) => pids.length === 0,
    { timeoutMs: 5000, intervalMs: 10 });
  const killMs = Math.round((performance.now() - started) * 1000) / 1000;
  const events = await pollUntilSettled(() => counters.pidsMaxEvents(),
    { timeoutMs: 2000, intervalMs: 50 });
  Object.assign(result.metrics, {
    offenderKillMs: killMs,
    offenderKillCompleted: killed && empty.met,
    offenderKillMethod: await killMethod(counters),
    offenderPidsEventsSettled: events.value ?? null,
  });
  if (run.phase !== 'attack') return;
  result.offenderChecks.push(atMost('offender cgroup is empty within 1 s of the kill',
    empty.met ? killMs : Infinity, FORKBOMB.killBoundMs, ' ms'));
}

/** Names what killAll used: cgroup.kill (v2, Linux 5.14+) or the freezer plus SIGKILL. */
async function killMethod(counters: CgroupCounters): Promise<string> {
  const dir = counters.cgroup.dirOf('pids');
  if (counters.version('pids') !== 2 || !dir) return 'freezer plus SIGKILL';
  const hasKill = await fs.access(path.join(dir, 'cgroup.kill')).then(() => true, () => false);
  return hasKill ? 'cgroup.kill' : 'freezer plus SIGKILL';
}

function offenderChecks(result: PhaseResult): void {
  const peak = seriesMax(result.samples.offenderPidsCurrent ?? []) ?? Infinity;
  const settled = Number(result.metrics.offenderPidsEventsSettled ?? 0);
  const events = Math.max(seriesMax(result.samples.offenderPidsEventsMax ?? []) ?? 0, settled);
  result.metrics.offenderPidsPeak = peak;
  result.metrics.offenderPidsEventsMax = events;
  result.offenderChecks.unshift(
    atMost(`offender's pids.current never exceeds pids.max ${FORKBOMB.pidsMax}`,
      peak, FORKBOMB.pidsMax, ' tasks'),
    atLeast('offender pids.events max counts refused forks', events, 1, ' events'),
  );
}
