// Limits hold on this kernel, read back from its cgroup files. Each check has
// a control without the limit that must fail it. Controls are bounded (the
// limit plus 32 MiB, or plus 20 forks) and run under a capped parent cgroup,
// so nothing unbounded runs on the host.
import { test, expect, outputFile, readOutput, pollFor } from './fixtures.js';
import type { Engine } from '../../engine/index.js';

const MiB = 1024 * 1024;
const MEMORY_LIMIT = 32 * MiB;
const PIDS_LIMIT = 20;
const CAP = { memory: { limit: 256 * MiB }, pids: { limit: 200 } };

/** Runs memhog for the limit plus 32 MiB; returns the exit record and the cgroup's counters. */
async function hogMemory(engine: Engine, id: string, bundle: string, stdio: number) {
  await engine.create(id, bundle, { stdio: ['ignore', stdio, stdio] });
  const before = await engine.stats(id);
  await engine.start(id);
  const exit = await engine.wait(id, 60_000);
  const after = await engine.stats(id);
  const state = await engine.state(id);
  return { exit, state, before: before.cgroup.memory!, after: after.cgroup.memory! };
}

function oomChecks(result: Awaited<ReturnType<typeof hogMemory>>) {
  return {
    killedBySigkill: result.exit.signal === 9,
    stateSaysOom: result.state.oomKilled === true,
    oomKillCounted: (result.after.events.oom_kill ?? 0) > (result.before.events.oom_kill ?? 0),
  };
}

test('process over memory.max is OOM-killed', async ({ engine, makeBundle, workDir, uniqueId }) => {
  const out = await outputFile(workDir, 'memhog');
  const mib = MEMORY_LIMIT / MiB + 32;
  const bundle = await makeBundle({ args: ['memhog', String(mib)], resources: { memory: { limit: MEMORY_LIMIT } } });
  const result = await hogMemory(engine, uniqueId('oom'), bundle, out.fd);
  expect(oomChecks(result)).toEqual({ killedBySigkill: true, stateSaysOom: true, oomKillCounted: true });
  expect(result.after.limit).toBe(MEMORY_LIMIT);
  const lines = (await readOutput(out.file)).trim().split('\n');
  expect(Number(lines.at(-1))).toBeLessThan(MEMORY_LIMIT / MiB);
});

test('process without memory limit is not OOM-killed (control)', async ({ engine, makeBundle, workDir, uniqueId, cappedParent }) => {
  const parent = await cappedParent(CAP);
  const id = uniqueId('oom-ctl');
  const out = await outputFile(workDir, 'memhog-ctl');
  const bundle = await makeBundle({ args: ['memhog', String(MEMORY_LIMIT / MiB + 32)], cgroupsPath: `${parent}/${id}` });
  const result = await hogMemory(engine, id, bundle, out.fd);
  expect(oomChecks(result)).toEqual({ killedBySigkill: false, stateSaysOom: false, oomKillCounted: false });
  expect(result.exit.exitCode).toBe(0);
});

async function forkLoop(engine: Engine, id: string, bundle: string, stdio: number) {
  await engine.create(id, bundle, { stdio: ['ignore', stdio, stdio] });
  await engine.start(id);
  // forker holds its children for 5 s, so pids.current can be sampled at its peak.
  const peak = await pollFor('forker to finish forking', async () => {
    const stats = (await engine.stats(id)).cgroup.pids!;
    return stats.current >= PIDS_LIMIT || (await engine.state(id)).status === 'stopped' ? stats : undefined;
  });
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) {
    samples.push((await engine.stats(id)).cgroup.pids!.current);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const exit = await engine.wait(id, 60_000);
  const pids = (await engine.stats(id)).cgroup.pids!;
  return { exit, peak: Math.max(peak.current, ...samples), events: pids.events.max ?? 0 };
}

test('fork loop stops at pids.max', async ({ engine, makeBundle, workDir, uniqueId }) => {
  const out = await outputFile(workDir, 'forker');
  const bundle = await makeBundle({ args: ['forker', String(PIDS_LIMIT + 20), '5'], resources: { pids: { limit: PIDS_LIMIT } } });
  const result = await forkLoop(engine, uniqueId('pids'), bundle, out.fd);
  expect(result.peak).toBeLessThanOrEqual(PIDS_LIMIT);
  expect(result.events).toBeGreaterThan(0);
  expect(result.exit.exitCode).toBe(1);
  expect(await readOutput(out.file)).toContain(`forked ${PIDS_LIMIT - 1} of ${PIDS_LIMIT + 20}`);
});

test('fork loop passes the limit without pids.max (control)', async ({ engine, makeBundle, workDir, uniqueId, cappedParent }) => {
  const parent = await cappedParent(CAP);
  const id = uniqueId('pids-ctl');
  const out = await outputFile(workDir, 'forker-ctl');
  const bundle = await makeBundle({ args: ['forker', String(PIDS_LIMIT + 20), '5'], cgroupsPath: `${parent}/${id}` });
  const result = await forkLoop(engine, id, bundle, out.fd);
  expect(result.peak).toBeGreaterThan(PIDS_LIMIT);
  expect(result.events).toBe(0);
  expect(result.exit.exitCode).toBe(0);
});

const EXEC_LIMIT = 5;

async function execsIntoFullContainer(engine: Engine, id: string, bundle: string, unchecked: boolean) {
  await engine.create(id, bundle);
  await engine.start(id);
  await pollFor('container to fill pids.max', async () => {
    const current = (await engine.stats(id)).cgroup.pids!.current;
    return current >= EXEC_LIMIT ? current : undefined;
  });
  const samples: number[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push((await engine.stats(id)).cgroup.pids!.current);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  const results = await Promise.allSettled(
    Array.from({ length: 6 }, () =>
      engine.exec(id, ['sleep', '2'], unchecked ? { uncheckedMigration: true } : {}).then((h) => h.done)),
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  sampling = false;
  await sampler;
  return { results, peak: Math.max(...samples) };
}

test('six concurrent execs at pids.max stay within it', async ({ engine, makeBundle, uniqueId }) => {
  const bundle = await makeBundle({ args: ['forker', String(EXEC_LIMIT + 5), '60'], resources: { pids: { limit: EXEC_LIMIT } } });
  const { results, peak } = await execsIntoFullContainer(engine, uniqueId('exec-pids'), bundle, false);
  expect(peak).toBeLessThanOrEqual(EXEC_LIMIT);
  for (const result of results) {
    expect(result.status).toBe('rejected');
    if (result.status === 'rejected') expect(String(result.reason)).toContain('EAGAIN');
  }
});

test('execs by plain migration pass pids.max (control)', async ({ engine, makeBundle, uniqueId }) => {
  const bundle = await makeBundle({ args: ['forker', String(EXEC_LIMIT + 5), '60'], resources: { pids: { limit: EXEC_LIMIT } } });
  const { results, peak } = await execsIntoFullContainer(engine, uniqueId('exec-pids-ctl'), bundle, true);
  expect(peak).toBeGreaterThan(EXEC_LIMIT);
  expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThan(0);
});

// The maximum weight keeps the burner from being starved by other work on a
// busy host (a QEMU guest of the VM tests, say), so that what the test sees
// is the quota and not contention. Both arms have it.
const MAX_SHARES = 262_144;
const QUOTA = { quota: 20_000, period: 100_000, shares: MAX_SHARES };

async function cpuShare(engine: Engine, id: string, bundle: string): Promise<number> {
  await engine.create(id, bundle);
  await engine.start(id);
  // Skip the first half second: start-up is not the steady state under a quota.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const first = (await engine.stats(id)).cgroup.cpu!.usageUsec;
  const t0 = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const second = (await engine.stats(id)).cgroup.cpu!.usageUsec;
  const wallUsec = Number(process.hrtime.bigint() - t0) / 1000;
  await engine.kill(id, 'KILL');
  return (second - first) / wallUsec;
}

test('cpu quota of 20% holds within 10%', async ({ engine, makeBundle, uniqueId }) => {
  const bundle = await makeBundle({ args: ['spin', '30'], resources: { cpu: QUOTA } });
  const share = await cpuShare(engine, uniqueId('cpu'), bundle);
  const expected = QUOTA.quota / QUOTA.period;
  const error = Math.abs(share - expected) / expected;
  test.info().annotations.push({ type: 'metrics', description: JSON.stringify({ share, expected, error, limit: 0.1 }) });
  expect(error).toBeLessThanOrEqual(0.1);
});

test('cpu use passes 20% without a quota (control)', async ({ engine, makeBundle, uniqueId }) => {
  const bundle = await makeBundle({ args: ['spin', '30'], resources: { cpu: { shares: MAX_SHARES } } });
  const share = await cpuShare(engine, uniqueId('cpu-ctl'), bundle);
  const expected = QUOTA.quota / QUOTA.period;
  expect(Math.abs(share - expected) / expected).toBeGreaterThan(0.1);
});
