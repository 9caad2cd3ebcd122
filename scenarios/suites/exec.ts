// Exec into a running container: a process started by exec is in every
// namespace of the container (same /proc/PID/ns inodes as its init) and in
// its cgroup, so it counts against pids.max. The exec that fills the
// container brings pids.current to the limit, and six concurrent execs into
// the full container leave it there. Control: execs that join only some
// namespaces and stay out of the cgroup, which the same checks catch.
import { statSync, promises as fs } from 'node:fs';
import type { ExecHandle, ExecOptions } from '../../engine/index.js';
import type { NamespaceType } from '../../engine/spec/oci.js';
import { launch } from '../framework/bundle.js';
import { atLeast, atMost, within } from '../framework/checks.js';
import {
  pollUntil, pollUntilSettled, Sampler, sampleDuring, seriesMax,
} from '../framework/poll.js';
import { CgroupCounters } from '../framework/counters.js';
import type {
  CheckResult, Phase, PhaseResult, Scenario, ScenarioContext,
} from '../framework/types.js';
import { scenarios } from './index.js';

/** pids.max of the container. */
const PIDS_LIMIT = 8;
/** Children of the container's init (forker). With init, they leave room for one exec. */
const INIT_CHILDREN = PIDS_LIMIT - 2;
/** Execs sent at once into the full container. */
const CONCURRENT_EXECS = 6;
/** Lifetime of every workload, in seconds. Containers and execs are killed long before. */
const HOLD_SECONDS = 120;
/** The namespaces a control exec joins: some of the container's, not all. */
const CONTROL_NAMESPACES: NamespaceType[] = ['pid', 'mount'];
/** Interval of pids.current samples while execs run, in ms. */
const SAMPLE_INTERVAL_MS = 10;
/** Bound on pids.current settling, in ms (TCG start-up of forker included). */
const SETTLE_TIMEOUT_MS = 20_000;

/** /proc/PID/ns link names of the OCI namespace types. */
const NS_LINKS: Record<NamespaceType, string> = {
  pid: 'pid', network: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup',
  time: 'time',
};

/** Counts the namespaces of `types` that `pid` shares with `initPid`, by inode. */
function sharedNamespaces(pid: number, initPid: number, types: NamespaceType[]): number {
  const inode = (p: number, type: NamespaceType) =>
    statSync(`/proc/${p}/ns/${NS_LINKS[type]}`).ino;
  return types.filter((type) => inode(pid, type) === inode(initPid, type)).length;
}

/** Returns 1 when both processes list the same cgroups in /proc/PID/cgroup, else 0. */
async function sameCgroup(pid: number, initPid: number): Promise<number> {
  const read = (p: number) => fs.readFile(`/proc/${p}/cgroup`, 'utf8');
  return (await read(pid)) === (await read(initPid)) ? 1 : 0;
}

/** Result of a batch of concurrent execs. */
interface Outcome { started: ExecHandle[]; eagain: number; otherErrors: string[] }

async function execBatch(
  ctx: ScenarioContext,
  id: string,
  options: ExecOptions,
): Promise<Outcome> {
  const results = await Promise.allSettled(Array.from({ length: CONCURRENT_EXECS },
    () => ctx.engine.exec(id, ['sleep', String(HOLD_SECONDS)], options)));
  const outcome: Outcome = { started: [], eagain: 0, otherErrors: [] };
  for (const result of results) {
    if (result.status === 'fulfilled') outcome.started.push(result.value);
    else if (String(result.reason).includes('EAGAIN')) outcome.eagain++;
    else outcome.otherErrors.push(String(result.reason));
  }
  return outcome;
}

/** Kills exec'd processes by pid, because control execs live outside the container's cgroup. */
function killExecs(handles: ExecHandle[]): void {
  for (const handle of handles) {
    try {
      process.kill(handle.pid, 'SIGKILL');
    } catch {
      // It has already ended.
    }
    void handle.done.catch(() => undefined);
  }
}

/** Observations of one phase: pids.current at each step, the probe's placement, the batch. */
interface Observation {
  before: number;
  afterProbe: number;
  final: number;
  shared: number;
  inCgroup: number;
  batch: Outcome | undefined;
}

/**
 * Waits for init to fill the container to one under pids.max, starts the
 * probe exec, checks where it landed, then sends the batch of concurrent
 * execs (not in the baseline). Every exec handle goes to `handles`.
 */
async function observe(
  ctx: ScenarioContext,
  phase: Phase,
  id: string,
  readPids: () => Promise<number>,
  handles: ExecHandle[],
): Promise<Observation> {
  const state = await ctx.engine.state(id);
  const types = (await ctx.engine.store.read(id)).namespaces as NamespaceType[];
  const options = phase === 'control' ? { namespaces: CONTROL_NAMESPACES, skipCgroup: true } : {};
  const settle = { timeoutMs: 2000, intervalMs: 50, stableReads: 3 };

  const filled = await pollUntil(readPids, (n) => n === PIDS_LIMIT - 1,
    { timeoutMs: SETTLE_TIMEOUT_MS });
  const probe = await ctx.engine.exec(id, ['sleep', String(HOLD_SECONDS)], options);
  handles.push(probe);
  const afterProbe = await pollUntilSettled(readPids, settle);
  const shared = sharedNamespaces(probe.pid, state.pid, types);
  const inCgroup = await sameCgroup(probe.pid, state.pid);

  const batch = phase === 'baseline' ? undefined : await execBatch(ctx, id, options);
  handles.push(...(batch?.started ?? []));
  const final = await pollUntilSettled(readPids, settle);
  return {
    before: filled.value,
    afterProbe: afterProbe.value,
    final: final.value,
    shared,
    inCgroup,
    batch,
  };
}

function victimChecks(seen: Observation, namespaces: number, peak: number): CheckResult[] {
  return [
    atLeast(`exec'd process is in all ${namespaces} namespaces of the container`,
      seen.shared, namespaces),
    atLeast('exec\'d process is in the container\'s cgroup', seen.inCgroup, 1),
    within('exec\'d process raises pids.current by one', seen.afterProbe - seen.before, 1, 0),
    within('pids.current stays at pids.max once exec fills the container',
      seen.final, PIDS_LIMIT, 0),
    atMost('pids.current never exceeds pids.max', peak, PIDS_LIMIT),
  ];
}

async function run(ctx: ScenarioContext, phase: Phase): Promise<PhaseResult> {
  const origin = performance.now();
  const id = await launch(ctx, 'victim', {
    args: ['forker', String(INIT_CHILDREN), String(HOLD_SECONDS)],
    resources: { pids: { limit: PIDS_LIMIT } },
  });
  const counters = await CgroupCounters.open((await ctx.engine.state(id)).cgroupPath);
  const readPids = async () => (await counters.pidsCurrent()) ?? NaN;
  const sampler = new Sampler(origin, SAMPLE_INTERVAL_MS).add('pidsCurrent', readPids);
  const namespaces = (await ctx.engine.store.read(id)).namespaces;
  const handles: ExecHandle[] = [];
  try {
    const seen = await sampleDuring(sampler, () => observe(ctx, phase, id, readPids, handles));
    const peak = seriesMax(sampler.samples.pidsCurrent) ?? NaN;
    const eagain = seen.batch?.eagain ?? 0;
    return {
      scenario: 'exec',
      phase,
      checks: victimChecks(seen, namespaces.length, peak),
      offenderChecks: phase !== 'attack' ? [] : [atLeast(
        `${CONCURRENT_EXECS} concurrent execs into the full container fail with EAGAIN`,
        eagain, CONCURRENT_EXECS)],
      metrics: {
        PIDS_LIMIT, INIT_CHILDREN, CONCURRENT_EXECS, HOLD_SECONDS, SAMPLE_INTERVAL_MS,
        SETTLE_TIMEOUT_MS,
        controlNamespaces: CONTROL_NAMESPACES.join(','),
        containerNamespaces: namespaces.join(','),
        pidsBeforeProbe: seen.before,
        pidsAfterProbe: seen.afterProbe,
        pidsFinal: seen.final,
        pidsPeak: peak,
        sharedNamespaces: seen.shared,
        probeInCgroup: seen.inCgroup,
        batchStarted: seen.batch?.started.length ?? null,
        batchEagain: seen.batch?.eagain ?? null,
        batchOtherErrors: seen.batch?.otherErrors.join('; ') ?? null,
        pidsEventsMax: (await ctx.engine.stats(id)).cgroup.pids?.events.max ?? null,
      },
      samples: sampler.samples,
      wallMs: Math.round(performance.now() - origin),
    };
  } finally {
    killExecs(handles);
  }
}

export const exec: Scenario = {
  name: 'exec',
  title: 'Exec joins every namespace and the cgroup, and counts against pids.max',
  unsupported: (facts) =>
    (facts.controllers.pids ? undefined : 'the kernel has no pids controller'),
  run,
};

scenarios.push(exec);
