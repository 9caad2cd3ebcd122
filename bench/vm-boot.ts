// bench/vm-boot: boot-to-SSH-ready of debian-6.1 against the floor, in one run.
// The floor boots the same kernel and initramfs with the same QEMU devices,
// with an init that powers off at once. Floor and full boots alternate, so
// load from other processes falls on both. Prints medians, the ratio (goal:
// at most 1.3) and where the full boot's time goes.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureInitramfs } from '../vm/initramfs/build.js';
import { parseKernelRequest } from '../vm/kernels/catalog.js';
import { ensureKernel } from '../vm/kernels/store.js';
import { DEFAULT_CACHE_DIR } from '../vm/paths.js';
import { chooseAccel, type AccelRequest } from '../vm/qemu/accel.js';
import { bootToPoweroff, probeKvm } from '../vm/qemu/probe.js';
import { QemuTarget } from '../vm/qemu/target.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const KERNEL = process.env.BENCH_KERNEL ?? 'debian-6.1';
const ACCEL = (process.env.BENCH_ACCEL ?? 'auto') as AccelRequest;
const benchDir = path.dirname(fileURLToPath(import.meta.url));

interface FullBoot {
  readyMs: number;
  launchMs: number;
  marks: Record<string, number>;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function fullBoot(accel: 'kvm' | 'tcg'): Promise<FullBoot> {
  const machine = await new QemuTarget({ kernel: KERNEL, accel }).start();
  try {
    return { readyMs: machine.timing.readyMs, launchMs: machine.timing.launchMs, marks: machine.timing.marks };
  } finally {
    await machine.shutdown();
  }
}

function printBreakdown(boots: FullBoot[]): void {
  process.stdout.write('\nwhere a full boot goes (medians, seconds):\n');
  const line = (label: string, seconds: number): void => {
    process.stdout.write(`  ${label.padEnd(48)} ${seconds.toFixed(2)}\n`);
  };
  line('host: runtime dir, keys, disk, QEMU start', median(boots.map((boot) => boot.launchMs)) / 1000);

  // The disk is set up beside sshd's start, so marks are ordered by their median uptime.
  const steps = [...new Set(boots.flatMap((boot) => Object.keys(boot.marks)))]
    .filter((step) => step !== 'extra-modules')
    .map((step) => ({ step, at: median(boots.map((boot) => boot.marks[step]).filter((value) => value !== undefined)) }))
    .sort((a, b) => a.at - b.at);
  let previous = { step: 'kernel start', at: 0 };
  for (const current of steps) {
    line(`guest: ${previous.step} -> ${current.step} (uptime ${current.at.toFixed(2)})`, current.at - previous.at);
    previous = current;
  }
  const rest = boots.map((boot) => boot.readyMs / 1000 - boot.launchMs / 1000 - (boot.marks.ready ?? 0));
  line('host: firmware before the kernel, and seeing ready', median(rest));
}

async function main(): Promise<void> {
  const build = await ensureKernel(DEFAULT_CACHE_DIR, parseKernelRequest(KERNEL));
  const initramfs = await ensureInitramfs(build);
  const { accel, reason } = await chooseAccel(ACCEL, DEFAULT_CACHE_DIR, () => probeKvm(build, initramfs, {}));
  process.stdout.write(`vm-boot: ${KERNEL} (${build.packageName} ${build.packageVersion}), ${accel} (${reason}), ${RUNS} runs each\n`);

  const floors: number[] = [];
  const boots: FullBoot[] = [];
  for (let i = 0; i < RUNS; i++) {
    const floor = await bootToPoweroff(build, initramfs, accel, { timeoutMs: 120_000 });
    if (!floor.ok) throw new Error(`floor run ${i} failed: ${floor.detail}`);
    floors.push(floor.elapsedMs);
    boots.push(await fullBoot(accel));
    process.stdout.write(`  run ${i + 1}: floor ${floor.elapsedMs} ms, ssh ready ${boots[i].readyMs} ms\n`);
  }

  const floorMs = median(floors);
  const readyMs = median(boots.map((boot) => boot.readyMs));
  process.stdout.write(`\nfloor (init powers off at once): median ${floorMs} ms\n`);
  process.stdout.write(`boot to SSH ready:               median ${readyMs} ms\n`);
  process.stdout.write(`ratio: ${(readyMs / floorMs).toFixed(2)}x the floor (goal: at most 1.3x)\n`);
  printBreakdown(boots);

  const out = path.resolve(benchDir, '../../bench/out');
  await fs.mkdir(out, { recursive: true });
  const record = { kernel: KERNEL, package: build.packageVersion, accel, runs: RUNS, floors, boots, ratio: readyMs / floorMs };
  await fs.writeFile(path.join(out, 'vm-boot.json'), `${JSON.stringify(record, null, 2)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`vm-boot: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
