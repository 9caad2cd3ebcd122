// `isolab demo`: on this machine's kernel, one container runs a memory hog, a
// fork loop and a CPU burner under small limits, and the engine prints what
// the kernel's cgroup files recorded. Until the VM suites exist this is the
// project's main demonstration; it is bounded and cleans up after itself.
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../engine/index.js';
import { defaultSpec } from '../engine/spec/generate.js';
import { makeBusyboxRootfs } from '../engine/spec/rootfs.js';

const MiB = 1024 * 1024;
const LIMITS = { memory: 32 * MiB, pids: 20, cpuQuota: 20_000, cpuPeriod: 100_000 };
const HARD_TIMEOUT_MS = 120_000;

const here = path.dirname(fileURLToPath(import.meta.url));

function workloadsDir(): string {
  // Compiled code runs from dist/bin, sources from bin/.
  const candidates = ['../scenarios/workloads/build', '../../scenarios/workloads/build'];
  const found = candidates.map((c) => path.resolve(here, c)).find((dir) => existsSync(dir));
  return found ?? path.resolve(here, candidates[1]);
}

/** Runs the demonstration and returns 0 when every limit held. */
export async function runDemo(root: string): Promise<number> {
  // A root of its own, beside the given one, so gc of that root never finds it.
  const engine = new Engine(`${root.replace(/\/+$/, '')}-demo`);
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'isolab-demo-'));
  const id = `demo-${process.pid}`;
  const cleanup = async () => {
    await engine.delete(id, true).catch(() => undefined);
    await fs.rm(work, { recursive: true, force: true });
    await fs.rm(engine.store.root, { recursive: true, force: true });
  };
  const onSignal = () => { void cleanup().then(() => process.exit(130)); };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) process.once(signal, onSignal);
  const timer = setTimeout(() => {
    process.stderr.write(`isolab: demo timed out after ${HARD_TIMEOUT_MS} ms\n`);
    onSignal();
  }, HARD_TIMEOUT_MS);
  try {
    return await demonstrate(engine, id, work);
  } finally {
    clearTimeout(timer);
    await cleanup();
  }
}

async function demonstrate(engine: Engine, id: string, work: string): Promise<number> {
  const rootfs = path.join(work, 'rootfs');
  await makeBusyboxRootfs(rootfs);
  const spec = defaultSpec({ rootfs });
  spec.process!.args = ['sleep', '600'];
  spec.process!.env = ['PATH=/w:/bin'];
  spec.hostname = 'isolab-demo';
  spec.mounts!.push({ destination: '/w', type: 'bind', source: workloadsDir(), options: ['rbind', 'ro'] });
  spec.linux!.resources = {
    memory: { limit: LIMITS.memory },
    pids: { limit: LIMITS.pids },
    cpu: { quota: LIMITS.cpuQuota, period: LIMITS.cpuPeriod },
  };
  await fs.writeFile(path.join(work, 'config.json'), JSON.stringify(spec));
  await engine.create(id, work);
  await engine.start(id);
  console.log(`container ${id}: memory.max 32 MiB, pids.max ${LIMITS.pids}, cpu quota 20%`);

  const checks: Array<[string, boolean, string]> = [];
  const hog = await engine.execAndWait(id, ['memhog', '64']);
  let stats = (await engine.stats(id)).cgroup;
  checks.push(['memory hog of 64 MiB is OOM-killed', hog.signal === 'SIGKILL',
    `signal ${hog.signal}, memory.oom_kill ${stats.memory?.events.oom_kill}, peak ${fmt(stats.memory?.maxUsage)}`]);

  const forks = await engine.execAndWait(id, ['forker', '60']);
  stats = (await engine.stats(id)).cgroup;
  checks.push(['fork loop of 60 stops at pids.max', forks.exitCode === 1,
    `exit ${forks.exitCode}, pids.events max ${stats.pids?.events.max}`]);

  const before = stats.cpu?.usageUsec ?? 0;
  const started = Date.now();
  await engine.execAndWait(id, ['spin', '2']);
  stats = (await engine.stats(id)).cgroup;
  const share = ((stats.cpu?.usageUsec ?? 0) - before) / ((Date.now() - started) * 1000);
  // Only use above the quota breaks it: a busy host may give the burner less.
  checks.push(['CPU burner gets at most 20% of one CPU (+10%)', share <= 0.2 * 1.1,
    `share ${(share * 100).toFixed(1)}%, throttled ${stats.cpu?.nrThrottled} periods`]);

  for (const [what, ok, detail] of checks) console.log(`${ok ? 'held  ' : 'BROKEN'} ${what}: ${detail}`);
  console.log(JSON.stringify({ id, stats }, null, 2));
  return checks.every(([, ok]) => ok) ? 0 : 1;
}

function fmt(bytes: number | undefined): string {
  return bytes === undefined ? 'n/a' : `${(bytes / MiB).toFixed(1)} MiB`;
}
