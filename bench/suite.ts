// bench/suite: wall time of the whole scenario suite on one target, with
// where the time goes (VM boot, each scenario's phases) from results.json.
// Goal: at most 5 minutes for qemu-debian-6.1-v2 on 2 cores under TCG.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResultsFile } from '../reports/model.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const GOAL_MS = 5 * 60_000;

function main(): void {
  const target = process.argv[2] ?? 'qemu-debian-6.1-v2';
  const started = Date.now();
  // Keeps the config's reporters, because the phase times come from results.json.
  const run = spawnSync(path.join(repoRoot, 'node_modules/.bin/playwright'), ['test', '--project', target], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 60 * 60_000,
  });
  const wallMs = Date.now() - started;
  const results = JSON.parse(readFileSync(path.join(repoRoot, 'results/results.json'), 'utf8')) as ResultsFile;
  if (Date.parse(results.startedAt) < started - 60_000) {
    throw new Error(`results/results.json is stale: its run started at ${results.startedAt}, before this benchmark; check that playwright.config.ts keeps the results reporter`);
  }
  const byScenario = new Map<string, number>();
  for (const entry of results.entries) byScenario.set(entry.scenario, (byScenario.get(entry.scenario) ?? 0) + entry.wallMs);
  const phasesMs = [...byScenario.values()].reduce((a, b) => a + b, 0);

  console.log(`suite on ${target}: ${(wallMs / 1000).toFixed(1)} s wall (Playwright exit ${run.status})`);
  console.log(`goal ${GOAL_MS / 1000} s: ratio ${(wallMs / GOAL_MS).toFixed(2)}`);
  console.log(`phases in the guest: ${(phasesMs / 1000).toFixed(1)} s; VM boot, agent start and teardown: ${((wallMs - phasesMs) / 1000).toFixed(1)} s`);
  for (const [scenario, ms] of byScenario) console.log(`  ${scenario.padEnd(10)} ${(ms / 1000).toFixed(1)} s`);
}

main();
