// Dentry exhaustion: the offender runs the classic `mkdir x; cd x` loop on
// the work disk, plus lookups of missing names that leave negative
// dentries, under a memory.max of a few tens of MiB. Dentries and inodes
// are kernel memory charged to its cgroup, and the nested chain pins every
// one of them, so the loop ends when the cgroup is full. The victim beside
// it must still create N files and allocate M MiB within k times its
// baseline time. The control drops the offender's limit, so its dentries
// fill the machine and the victim fails.
import { promises as fs } from 'node:fs';
import type { Mount } from '../../engine/spec/oci.js';
import { atLeast, atMost } from '../framework/checks.js';
import { launch, lastJsonLine } from '../framework/bundle.js';
import { createMachine, inMachine, type MachineCgroup } from '../framework/machine.js';
import { phaseResult, ratio, since } from '../framework/phase.js';
import { quantile, Sampler } from '../framework/poll.js';
import type { CheckResult, Phase, PhaseResult, Scenario, ScenarioContext }
  from '../framework/types.js';
import { startWorkload } from '../framework/workload.js';
import { attackPhase } from './dentry-offender.js';
import { prepareTree, type OffenderTree, type TreeFilesystem } from './dentry-tree.js';
import { scenarios } from './index.js';

const MiB = 1024 * 1024;

/**
 * Sizes and factors. Measured on Debian 6.1 under TCG with 2 vCPUs, a level
 * of the chain on a tmpfs costs about 1 KiB of slab, so 24 MiB hold 25000
 * levels, made in 2 to 5 s and deleted by deltree in 17 s. The victim's run
 * takes 0.2 to 0.7 s alone and up to twice that beside the offender.
 */
export const DENTRY = {
  /** The filesystem of the chain: a tmpfs, or the work disk (see dentry-tree.ts). */
  offenderFilesystem: 'tmpfs' as TreeFilesystem,
  /** nr_inodes of the tmpfs per MiB of the machine, far above what fits in the memory. */
  tmpfsInodesPerMiB: 4096,
  /** The offender's memory.max in the attack, in MiB. */
  offenderMemoryMiB: 24,
  /** Memory of the machine cgroup, under the capped parent, with victim and offender in it. */
  machineMemoryMiB: 48,
  /** N: files the victim creates. */
  victimFiles: 2000,
  /** M: MiB the victim allocates and touches. */
  victimMiB: 12,
  /** Runs of the victim alone, and beside the offender once its loop has stopped. */
  victimRuns: 3,
  /** Bound of the victim's runs while the offender's chain grows. */
  victimRunsWhileGrowing: 200,
  /** k: the victim's median time over its runs beside the offender, against its baseline. */
  timeFactor: 4,
  /**
   * Negative dentries the offender makes per level while its chain grows.
   * None: they are reclaimable, so they would leave room that the victim
   * gets back. It makes them once the chain has stopped, 20000 a second.
   */
  negativesPerLevel: 0,
  /** The offender gives up after this long without a new level, in ms. */
  offenderGiveUpMs: 2000,
  /** The offender's own bounds: levels and lifetime in seconds. */
  offenderMaxDepth: 1_000_000,
  offenderSeconds: 300,
  /** Bound of the offender's loop stopping, in ms. */
  offenderStopTimeoutMs: 180_000,
  /** Share of the offender's memory.max that must be kernel memory (slab) once it stopped. */
  slabShare: 0.5,
  /** Deleting the offender and its tree may take this many times as long as building it. */
  deleteFactor: 20,
  /** Free inodes the work disk must have per MiB of the machine, so ENOSPC cannot come first. */
  workDiskInodesPerMiB: 2000,
  sampleIntervalMs: 200,
};

/**
 * The victim's /data: a tmpfs of its own, so that its files cost dentries
 * and inodes as the offender's levels do, and its times do not depend on
 * the disk's writeback.
 */
const VICTIM_TMPFS: Mount = {
  destination: '/data',
  type: 'tmpfs',
  source: 'tmpfs',
  options: ['nosuid', 'nodev', 'mode=1777', 'size=64m', 'nr_inodes=65536'],
};

/** The filemaker workload's JSON line. */
export interface FilemakerReport {
  files: number;
  filesErrno: string;
  mib: number;
  allocFailed: boolean;
  filesMs: number;
  allocMs: number;
  ms: number;
}

/**
 * Runs the victim's filemaker once. A run without a report (an OOM kill, or
 * a container whose init the OOM killer ended) made no files.
 */
export async function runVictim(ctx: ScenarioContext, id: string, run: number):
  Promise<FilemakerReport> {
  const failed = (why: string): FilemakerReport => ({
    files: 0, filesErrno: `no report (${why})`, mib: 0, allocFailed: true,
    filesMs: Infinity, allocMs: Infinity, ms: Infinity,
  });
  const args = ['filemaker', `/data/run-${run}`, String(DENTRY.victimFiles),
    String(DENTRY.victimMiB)];
  try {
    const result = await (await startWorkload(ctx, id, args, 120_000)).done;
    const why = result.signal ?? `exit ${result.exitCode}`;
    return lastJsonLine<FilemakerReport>(result.stdout) ?? failed(why);
  } catch (err) {
    return failed((err as Error).message);
  }
}

/** Runs the victim `victimRuns` times, recording each time in samples.victimRunMs. */
export async function victimSeries(ctx: ScenarioContext, id: string, first: number,
  result: PhaseResult, origin: number): Promise<FilemakerReport[]> {
  const reports: FilemakerReport[] = [];
  for (let i = 0; i < DENTRY.victimRuns; i++) {
    const report = await runVictim(ctx, id, first + i);
    reports.push(report);
    (result.samples.victimRunMs ??= []).push([since(origin), report.ms]);
  }
  return reports;
}

/** Returns the distinct errors of the runs with their counts, such as "2x ENOMEM". */
function summarizeErrors(reports: FilemakerReport[]): string {
  const counts = new Map<string, number>();
  for (const { filesErrno } of reports) {
    if (filesErrno) counts.set(filesErrno, (counts.get(filesErrno) ?? 0) + 1);
  }
  return [...counts].map(([error, count]) => `${count}x ${error}`).join('; ');
}

function medianMs(reports: FilemakerReport[]): number {
  return quantile(reports.map((r) => r.ms), 0.5);
}

function victimChecks(reports: FilemakerReport[], baselineMs: number): CheckResult[] {
  const files = Math.min(...reports.map((r) => r.files));
  const mib = Math.min(...reports.map((r) => r.mib));
  return [
    atLeast(`victim creates ${DENTRY.victimFiles} files in every run`,
      files, DENTRY.victimFiles, ' files'),
    atLeast(`victim allocates ${DENTRY.victimMiB} MiB in every run`,
      mib, DENTRY.victimMiB, ' MiB'),
    atMost(`victim's median time is within ${DENTRY.timeFactor}x its baseline`,
      ratio(medianMs(reports), baselineMs), DENTRY.timeFactor, 'x'),
  ];
}

/** Returns a reason to skip when the work disk could end the loop with ENOSPC first. */
async function inodeShortage(ctx: ScenarioContext): Promise<string | undefined> {
  const stats = await fs.statfs(ctx.workDir);
  const needed = DENTRY.machineMemoryMiB * DENTRY.workDiskInodesPerMiB;
  if (stats.files === 0) return `the work disk ${ctx.workDir} reports no inode count`;
  if (stats.ffree >= needed) return undefined;
  return `the work disk ${ctx.workDir} has ${stats.ffree} free inodes, fewer than the `
    + `${needed} the offender may use, so ENOSPC could end its loop before its memory limit`;
}

async function run(ctx: ScenarioContext, phase: Phase): Promise<PhaseResult> {
  const origin = performance.now();
  const result = phaseResult(ctx, dentry.name, phase, DENTRY);
  const onWorkDisk = DENTRY.offenderFilesystem === 'workdisk';
  const shortage = onWorkDisk ? await inodeShortage(ctx) : undefined;
  if (shortage) return { ...result, skipped: shortage };

  const tree = await prepareTree(ctx, DENTRY.offenderFilesystem,
    DENTRY.machineMemoryMiB * DENTRY.tmpfsInodesPerMiB);
  const machine = await createMachine(ctx, 'machine',
    { memory: { limit: DENTRY.machineMemoryMiB * MiB } });
  const ids: string[] = [];
  const sampler = new Sampler(origin, DENTRY.sampleIntervalMs)
    .add('machineMemoryCurrent', () => machine.counters.memoryCurrent())
    .start();
  try {
    // oom_score_adj 1000 makes the victim the OOM killer's first choice, so that
    // any OOM outside the offender's own cgroup shows as a victim failure.
    const victim = await launch(ctx, 'victim', {
      cgroupsPath: inMachine(ctx, machine, 'victim'),
      mounts: [VICTIM_TMPFS],
      oomScoreAdj: 1000,
    });
    ids.push(victim);
    // The first run loads the workload and warms the caches; it is not counted.
    await runVictim(ctx, victim, 99);
    const alone = await victimSeries(ctx, victim, 0, result, origin);
    result.metrics.victimBaselineMs = medianMs(alone);
    const measured = phase === 'baseline'
      ? await victimSeries(ctx, victim, 100, result, origin)
      : await attackPhase({ ctx, phase, machine, tree, result, origin, sampler, ids }, victim);
    result.metrics.victimMedianMs = medianMs(measured);
    result.metrics.victimErrors = summarizeErrors(measured);
    result.checks = victimChecks(measured, medianMs(alone));
  } finally {
    await cleanup(ctx, ids, machine, tree);
    Object.assign(result.samples, await sampler.stop());
  }
  result.wallMs = since(origin);
  return result;
}

/** Deletes the containers, the machine cgroup and what is left of the tree. */
async function cleanup(ctx: ScenarioContext, ids: string[], machine: MachineCgroup,
  tree: OffenderTree): Promise<void> {
  for (const id of ids) await ctx.engine.delete(id, true).catch(() => undefined);
  await tree.release();
  await machine.destroy().catch((err: Error) => {
    ctx.log(`removing cgroup ${machine.path} failed: ${err.message}`);
  });
}

export const dentry: Scenario = {
  name: 'dentry',
  title: 'Dentry exhaustion held by memory.max',
  unsupported(facts) {
    return facts.controllers.memory ? undefined : 'the kernel has no memory controller';
  },
  run,
};

scenarios.push(dentry);
