// The dentry scenario's offender: its `mkdir x; cd x` loop, the counters
// that show where its memory went, and the deletion of its deep tree.
import { promises as fs } from 'node:fs';
import { atLeast, atMost } from '../framework/checks.js';
import { launch, lastJsonLine } from '../framework/bundle.js';
import { CgroupCounters } from '../framework/counters.js';
import { inMachine, type MachineCgroup } from '../framework/machine.js';
import { ratio, since } from '../framework/phase.js';
import { pollUntilSettled, seriesMax, type Sampler } from '../framework/poll.js';
import type { Phase, PhaseResult, ScenarioContext } from '../framework/types.js';
import { startWorkload } from '../framework/workload.js';
import { DENTRY, runVictim, victimSeries, type FilemakerReport } from './dentry.js';
import { deleteChain, type OffenderTree } from './dentry-tree.js';

const MiB = 1024 * 1024;

/** The state that the attack and control phases share with the scenario's main run. */
export interface OffenderRun {
  ctx: ScenarioContext;
  phase: Phase;
  machine: MachineCgroup;
  /** The chain's directory, bound at /data in the offender. */
  tree: OffenderTree;
  result: PhaseResult;
  origin: number;
  sampler: Sampler;
  /** Container ids to delete at the end; the offender is added here. */
  ids: string[];
}

/** The dirnest workload's JSON line. */
interface NestReport {
  event: string;
  depth: number;
  errno?: string;
  retries?: number;
  negatives: number;
  ms: number;
}

/** Counters of the offender's cgroup, read together until they settle. */
interface OffenderCounters {
  current?: number;
  peak?: number;
  kernel?: number;
  max?: number;
  oomKill?: number;
}

/** The end of the offender's loop and the counters of its cgroup. */
interface Outcome {
  /** The "stopped" line, when the loop ended without being killed. */
  stopped?: NestReport;
  /** The stopped line or the last progress line. */
  reported?: NestReport;
  before: OffenderCounters;
  after: OffenderCounters;
  /** Free inodes of the tree's filesystem right after the loop ended. */
  freeInodes: number;
}

/**
 * Starts the offender and runs the victim over and over while the chain
 * grows, then `victimRuns` more times once the offender has stopped. In the
 * attack it then deletes the offender and its tree and times that. Running
 * the victim during the growth matters for the control. The OOM killer
 * ranks processes by their resident and swapped pages and page tables, not
 * by the slab they caused. So when the machine is full it ends the victim
 * rather than the offender, whose memory is dentries and inodes.
 */
export async function attackPhase(run: OffenderRun, victim: string): Promise<FilemakerReport[]> {
  const { ctx, result } = run;
  const limited = run.phase === 'attack';
  const cgroupsPath = inMachine(ctx, run.machine, 'offender');
  const offender = await launch(ctx, 'offender', {
    cgroupsPath,
    writableBinds: { '/data': run.tree.dir },
    resources: limited ? { memory: { limit: DENTRY.offenderMemoryMiB * MiB } } : {},
  });
  run.ids.push(offender);
  const counters = await CgroupCounters.open(cgroupsPath);
  run.sampler
    .add('offenderMemoryCurrent', () => counters.memoryCurrent())
    .add('offenderKernelMemory', () => counters.kernelMemory())
    .add('offenderMemoryEventsMax', async () => (await counters.memoryEvents()).max);
  const before = await settle(counters);

  const args = ['dirnest', String(DENTRY.offenderMaxDepth), String(DENTRY.negativesPerLevel),
    String(DENTRY.offenderSeconds), String(DENTRY.offenderGiveUpMs)];
  const nest = await startWorkload(ctx, offender, args, (DENTRY.offenderSeconds + 30) * 1000,
    { cwd: '/data' });
  let growing = true;
  const stopLine = nest.waitForLine(/"event":"stopped"/, DENTRY.offenderStopTimeoutMs)
    .catch((err: Error) => {
      // An OOM kill ends the loop this way, which the cgroup's oom_kill count records.
      ctx.log(`offender ${offender} ended without its stop line, as an OOM kill ends it; the checks read its oom_kill count (${err.message})`);
      return undefined;
    })
    .finally(() => { growing = false; });
  const during: FilemakerReport[] = [];
  for (let i = 0; growing && i < DENTRY.victimRunsWhileGrowing; i++) {
    during.push(await runVictim(ctx, victim, 200 + i));
    (result.samples.victimRunMs ??= []).push([since(run.origin), during[i].ms]);
    // An OOM kill of the victim's init stops its container, and every later exec fails.
    if ((await ctx.engine.state(victim)).status !== 'running') break;
  }
  const line = await stopLine;
  const freeInodes = (await fs.statfs(run.tree.dir)).ffree;
  const stopped = line ? JSON.parse(line) as NestReport : undefined;
  const reported = stopped ?? lastJsonLine<NestReport>(nest.output());
  const after = await settle(counters);
  const outcome: Outcome = { stopped, reported, before, after, freeInodes };
  recordOutcome(result, outcome, during.length);

  const held = await victimSeries(ctx, victim, 400, result, run.origin);
  if (limited) {
    await deleteOffender(run, offender, outcome);
    offenderChecks(run, outcome);
  }
  return [...during, ...held];
}

function recordOutcome(result: PhaseResult, outcome: Outcome, runsWhileGrowing: number): void {
  const { stopped, reported, before, after } = outcome;
  Object.assign(result.metrics, {
    offenderDepth: reported?.depth ?? null,
    offenderErrno: stopped?.errno ?? null,
    offenderRetries: stopped?.retries ?? null,
    offenderNegatives: reported?.negatives ?? null,
    offenderBuildMs: reported?.ms ?? null,
    offenderMemoryCurrent: after.current ?? null,
    offenderMemoryPeak: after.peak ?? null,
    offenderKernelMemoryBefore: before.kernel ?? null,
    offenderKernelMemory: after.kernel ?? null,
    offenderMemoryEventsMax: after.max ?? null,
    offenderOomKill: after.oomKill ?? null,
    treeFreeInodesAtStop: outcome.freeInodes,
    victimRunsWhileGrowing: runsWhileGrowing,
  });
}

async function settle(counters: CgroupCounters): Promise<OffenderCounters> {
  const read = async (): Promise<OffenderCounters> => {
    const events = await counters.memoryEvents();
    return {
      current: await counters.memoryCurrent(),
      peak: await counters.memoryPeak(),
      kernel: await counters.kernelMemory(),
      max: events.max,
      oomKill: events.oom_kill,
    };
  };
  return (await pollUntilSettled(read, { timeoutMs: 10_000, intervalMs: 200 })).value;
}

/** Deletes the offender's container, then its chain, and checks how long both took. */
async function deleteOffender(run: OffenderRun, offender: string, outcome: Outcome) {
  const started = performance.now();
  await run.ctx.engine.delete(offender, true);
  run.ids.splice(run.ids.indexOf(offender), 1);
  const chain = await deleteChain(run.ctx, run.tree);
  const deleteMs = Math.round(performance.now() - started);
  Object.assign(run.result.metrics, {
    offenderDeleteMs: deleteMs,
    treeRemoved: chain.removed,
    treeMaxDepth: chain.maxDepth,
    treeDeleteErrno: chain.errno,
  });
  run.result.offenderChecks.push(
    atMost('offender tree is deleted without an error such as ENAMETOOLONG',
      chain.errno ? 1 : 0, 0, ' errors'),
    atMost(`deleting the offender and its tree takes at most ${DENTRY.deleteFactor}x its build`,
      ratio(deleteMs, outcome.reported?.ms ?? NaN), DENTRY.deleteFactor, 'x'),
  );
}

/**
 * Returns 1 when the loop ended at the memory limit: ENOMEM, an OOM kill,
 * or ENOSPC from a tmpfs that still had free inodes. shmem_mknod in older
 * kernels such as 6.1 returns ENOSPC whenever the inode allocation fails,
 * also when the failure is the memory cgroup's charge.
 */
function endedAtMemoryLimit(run: OffenderRun, outcome: Outcome): number {
  const errno = outcome.stopped?.errno;
  if (errno === 'ENOMEM' || (outcome.after.oomKill ?? 0) > 0) return 1;
  const misreported = errno === 'ENOSPC' && run.tree.filesystem === 'tmpfs'
    && outcome.freeInodes > 0 && (outcome.after.max ?? 0) > 0;
  return misreported ? 1 : 0;
}

/**
 * Adds the offender checks. Both memory.current and memory.peak are held to
 * memory.max exactly: the kernel's cgroup-v2 documentation allows usage to
 * go over the limit temporarily (__GFP_NOFAIL charges such as ext4's
 * journal), and when that happens the excess is kept in the metrics.
 */
function offenderChecks(run: OffenderRun, outcome: Outcome): void {
  const { before, after } = outcome;
  const limit = DENTRY.offenderMemoryMiB * MiB;
  const sampledPeak = seriesMax(run.sampler.samples.offenderMemoryCurrent ?? []) ?? 0;
  // memory.peak (v2) or max_usage_in_bytes (v1) records what 200 ms samples miss.
  const peak = Math.max(after.peak ?? 0, sampledPeak);
  const grown = (after.kernel ?? 0) - (before.kernel ?? 0);
  const oomKilled = (after.oomKill ?? 0) > 0;
  Object.assign(run.result.metrics, {
    offenderPeakOverLimit: peak - limit,
    offenderStopCause: outcome.stopped?.errno || (oomKilled ? 'OOM kill' : 'none'),
  });
  run.result.offenderChecks.unshift(
    atMost('offender memory.current stays at or under its memory.max',
      sampledPeak, limit, ' bytes'),
    atMost('offender memory peak stays at or under its memory.max', peak, limit, ' bytes'),
    atLeast(`offender's kernel memory grew by at least ${DENTRY.slabShare * 100}% of its limit`,
      grown, Math.round(limit * DENTRY.slabShare), ' bytes'),
    atLeast('offender memory events count the limit being hit', after.max ?? 0, 1, ' events'),
    atLeast('offender loop ends at its memory limit (ENOMEM or OOM), not out of inodes',
      endedAtMemoryLimit(run, outcome), 1, ''),
  );
}
