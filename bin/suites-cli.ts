// `isolab suites`: the main job. Runs the isolation scenario suites on the
// chosen targets (a fresh VM per target) through Playwright, and ends with
// the isolation report.
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { IsolabError } from '../engine/errors.js';
import { hasDefaultBaseline, runGate } from './gate-cli.js';
import { destroyVm } from '../vm/qemu/runtime.js';
import { DEFAULT_RUN_DIR } from '../vm/paths.js';
import { vmNameOf } from '../scenarios/specs/target.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');

export const SUITES_USAGE = `usage: isolab suites [--kernel NAME]... [--cgroup v1|v2]... [--all] [--grep TEXT] [--no-gate]
  Boots a VM per target (kernel x cgroup version), runs every scenario's
  baseline, attack and control in it, and writes results/ with the isolation
  report at results/isolation-report.html. Then it compares the results with
  reports/baseline.json (isolab gate) and fails when the gate fails.
  --kernel   debian-6.1 (default), debian-6.12, debian-5.10; repeatable
  --cgroup   v2 (default) or v1; repeatable
  --all      every kernel with both cgroup versions
  --grep     only scenarios whose test title matches
  --no-gate  skip the baseline gate`;

const KERNELS = ['debian-6.1', 'debian-6.12', 'debian-5.10'];

/** Runs the suites and returns Playwright's exit code. */
export async function runSuitesCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kernel: { type: 'string', multiple: true },
      cgroup: { type: 'string', multiple: true },
      all: { type: 'boolean' },
      grep: { type: 'string' },
      'no-gate': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${SUITES_USAGE}\n`);
    return 0;
  }
  const kernels = values.all ? KERNELS : values.kernel ?? ['debian-6.1'];
  const cgroups = values.all ? ['v2', 'v1'] : values.cgroup ?? ['v2'];
  for (const kernel of kernels) {
    if (!KERNELS.includes(kernel)) {
      throw new IsolabError({ kind: 'invalid-input', op: 'accept --kernel', value: kernel, reason: `known kernels: ${KERNELS.join(', ')}` });
    }
  }
  for (const cgroup of cgroups) {
    if (cgroup !== 'v1' && cgroup !== 'v2') throw new IsolabError({ kind: 'invalid-input', op: 'accept --cgroup', value: cgroup, reason: 'use v1 or v2' });
  }
  const projects = kernels.flatMap((k) => cgroups.map((c) => `qemu-${k}-${c}`));
  // One VM at a time: two TCG guests on 2 cores skew the CPU-share scenario.
  const args = [
    'test', '--workers', '1', ...projects.flatMap((p) => ['--project', p]),
    ...(values.grep ? ['--grep', values.grep] : []),
  ];
  // The gate must not read an earlier run's results if this one ends before writing its own.
  rmSync(path.join(repoRoot, 'results/results.json'), { force: true });
  const started = Date.now();
  // Ctrl-C reaches Playwright too, which stops its tests; this process waits and then cleans up.
  const ignoreInterrupt = () => undefined;
  process.on('SIGINT', ignoreInterrupt);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(path.join(repoRoot, 'node_modules/.bin/playwright'), args, { cwd: repoRoot, stdio: 'inherit' });
    child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 130 : 1)));
  });
  process.off('SIGINT', ignoreInterrupt);
  // An interrupted run skips the teardown projects, so the scenario VMs go here.
  for (const project of projects) {
    const dir = path.join(DEFAULT_RUN_DIR, vmNameOf(project));
    if (existsSync(dir)) {
      await destroyVm(dir);
      process.stdout.write(`destroyed the scenario VM ${vmNameOf(project)}, which the run left\n`);
    }
  }
  process.stdout.write(`suites on ${projects.join(', ')}: ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  process.stdout.write(`report: ${path.join(repoRoot, 'results/isolation-report.html')}\n`);
  // A run of some scenarios only (--grep) would fail the gate on the phases it left out.
  const skipGate = values['no-gate'] ? '--no-gate' : values.grep ? '--grep runs some scenarios only'
    : hasDefaultBaseline() ? undefined : 'no reports/baseline.json';
  if (skipGate) {
    process.stdout.write(`baseline gate skipped: ${skipGate}\n`);
    return code;
  }
  const gate = await runGate(projects.flatMap((project) => ['--target', project]));
  return code === 0 ? gate : code;
}
