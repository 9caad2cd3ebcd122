// bench/container-run: time for /bin/true through create, start, wait and
// delete, by the engine's API (in this process), by its CLI, and by crun and
// runc from Debian, all in one run on the same bundle. Prints mean and median
// milliseconds per container and the ratios the goals are stated in: API
// against crun, CLI against runc.
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../engine/index.js';
import { defaultSpec } from '../engine/spec/generate.js';
import { makeBusyboxRootfs } from '../engine/spec/rootfs.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const WARMUP = 3;
const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, '../../bin/isolab');

interface Timing { name: string; samples: number[] }

function summarize(samples: number[]): { mean: number; median: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { mean: samples.reduce((a, b) => a + b, 0) / samples.length, median: sorted[Math.floor(sorted.length / 2)] };
}

async function timeApi(bundle: string, root: string): Promise<Timing> {
  const engine = new Engine(root);
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const t0 = process.hrtime.bigint();
    await engine.run(`bench-api-${i}`, bundle);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= WARMUP) samples.push(ms);
  }
  return { name: 'isolab API', samples };
}

/**
 * Times a command per container through one bash loop, so that every runtime
 * pays the same fork and exec of its own binary. crun 1.8 rejects a hybrid
 * cgroup host whose cgroup2 mount has no controllers, so the loop runs in a
 * private mount namespace with /sys/fs/cgroup/unified unmounted.
 */
function timeShellLoop(name: string, command: string, privateCgroup2: boolean): Timing {
  const script = `
    ${privateCgroup2 ? 'umount /sys/fs/cgroup/unified 2>/dev/null || true' : ''}
    for i in $(seq 1 ${WARMUP + RUNS}); do
      s=$(date +%s%N)
      ${command} >/dev/null || { echo "run $i failed" >&2; exit 1; }
      e=$(date +%s%N)
      [ "$i" -gt ${WARMUP} ] && echo $(( (e - s) / 1000 ))
    done`;
  const args = privateCgroup2 ? ['-m', '--propagation', 'private', 'bash', '-c', script] : ['-c', script];
  const result = spawnSync(privateCgroup2 ? 'unshare' : 'bash', args, { encoding: 'utf8', timeout: 600_000 });
  if (result.status !== 0) throw new Error(`${name} loop failed: ${result.stderr}`);
  return { name, samples: result.stdout.trim().split('\n').map((us) => Number(us) / 1000) };
}

async function main(): Promise<void> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'isolab-bench-'));
  try {
    const bundle = path.join(work, 'bundle');
    await fs.mkdir(bundle);
    await makeBusyboxRootfs(path.join(bundle, 'rootfs'));
    const spec = defaultSpec({ rootfs: 'rootfs' });
    spec.process!.args = ['/bin/true'];
    await fs.writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec, null, 2));

    const root = path.join(work, 'state');
    const versions = ['crun', 'runc'].map((bin) => execFileSync(bin, ['--version'], { encoding: 'utf8' }).split('\n')[0]);
    const timings = [
      await timeApi(bundle, root),
      timeShellLoop('isolab CLI', `${cli} --root ${root}/cli engine run -b ${bundle} bench-cli-$i`, false),
      timeShellLoop('crun', `crun --root ${root}/crun run -b ${bundle} bench-crun-$i`, true),
      timeShellLoop('runc', `runc --root ${root}/runc run -b ${bundle} bench-runc-$i`, false),
    ];

    console.log(`container-run: /bin/true create+start+wait+delete, ${RUNS} runs after ${WARMUP} warm-up`);
    console.log(`host: ${os.cpus().length} CPUs, kernel ${os.release()}; ${versions.join('; ')}`);
    const stats = new Map(timings.map((t) => [t.name, summarize(t.samples)]));
    for (const [name, s] of stats) console.log(`${name.padEnd(12)} mean ${s.mean.toFixed(1)} ms  median ${s.median.toFixed(1)} ms`);
    const ratio = (a: string, b: string) => stats.get(a)!.median / stats.get(b)!.median;
    console.log(`ratio API/crun (median): ${ratio('isolab API', 'crun').toFixed(2)} (goal <= 1.0)`);
    console.log(`ratio CLI/runc (median): ${ratio('isolab CLI', 'runc').toFixed(2)} (goal <= 1.0)`);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

await main();
