// `isolab gate`: the baseline gate for CI. It compares results.json with a
// baseline and exits 1 on a regression. `--write` updates the baseline from
// accepted runs.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fromSystemError, IsolabError } from '../engine/errors.js';
import {
  baselineFrom, baselineProblem, compareWithBaseline, FAILING, mergeBaselines, resultsProblem,
  type Baseline,
} from '../reports/gate.js';
import type { ResultsFile } from '../reports/model.js';

const moduleDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(moduleDir, '../..');

/** The baseline that `isolab gate` and `isolab suites` use by default. */
export const DEFAULT_BASELINE = path.join(repoRoot, 'reports/baseline.json');

export const GATE_USAGE = `usage: isolab gate [--results FILE]... [--baseline FILE] [--target NAME]... [--write]
  Compares the run's results with the baseline and exits 1 when a phase
  fails, a phase that held is now skipped, a phase or one of its checks is
  missing, a control stops breaking a check it broke before, or a phase
  became a new finding. Margins to each bound are printed but not judged.
  --results   results.json of the run (default results/results.json); repeat
              to combine runs of different targets (a phase in two files is
              rejected)
  --baseline  the baseline (default reports/baseline.json)
  --target    a target the run was asked for, such as qemu-debian-6.1-v2;
              all its baseline phases must be in the results. Without it,
              the targets with results are judged and the others listed
  --write     write the baseline from the results instead: the phases of
              the targets in the results replace theirs, the other targets'
              phases stay. A run with a failed phase is rejected`;

async function readJson<T>(file: string, label: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw fromSystemError(`read ${label}`, file, err);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new IsolabError({ kind: 'invalid-input', op: `parse ${label}`, value: file, reason: (err as Error).message });
  }
}

/** Reads, checks and merges results files; the same phase in two files is rejected. */
export async function readResults(files: string[]): Promise<ResultsFile> {
  const all: ResultsFile[] = [];
  for (const file of files) {
    const data = await readJson<unknown>(file, 'results');
    const problem = resultsProblem(data);
    if (problem) throw new IsolabError({ kind: 'invalid-input', op: 'read results', value: file, reason: problem });
    all.push(data as ResultsFile);
  }
  const entries = new Map<string, ResultsFile['entries'][number]>();
  for (const [index, results] of all.entries()) {
    for (const entry of results.entries) {
      const key = `${entry.target} ${entry.scenario} ${entry.phase}`;
      if (entries.has(key)) {
        throw new IsolabError({ kind: 'invalid-input', op: 'combine results', value: files[index], reason: `phase ${key} is also in an earlier file; pass each target's run once` });
      }
      entries.set(key, entry);
    }
  }
  const merged = [...entries.values()];
  const startedAt = all.map((results) => results.startedAt).sort()[0] ?? new Date(0).toISOString();
  const totals = { passed: 0, failed: 0, skipped: 0, 'expected-failure': 0 };
  for (const entry of merged) totals[entry.verdict]++;
  return { schemaVersion: all[0]?.schemaVersion ?? 1, startedAt, wallMs: 0, totals, entries: merged };
}

async function readBaseline(file: string): Promise<Baseline> {
  const data = await readJson<unknown>(file, 'baseline');
  const problem = baselineProblem(data);
  if (problem) throw new IsolabError({ kind: 'invalid-input', op: 'read baseline', value: file, reason: problem });
  return data as Baseline;
}

/** Runs the gate, or writes the baseline, and returns the exit code. */
export async function runGate(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      results: { type: 'string', multiple: true },
      baseline: { type: 'string' },
      target: { type: 'string', multiple: true },
      write: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${GATE_USAGE}\n`);
    return 0;
  }
  const resultFiles = values.results ?? [path.join(repoRoot, 'results/results.json')];
  const baselineFile = values.baseline ?? DEFAULT_BASELINE;
  const results = await readResults(resultFiles);
  // With --target, an empty run is judged: every phase of those targets is missing.
  if (results.entries.length === 0 && (values.write || !values.target)) {
    throw new IsolabError({ kind: 'invalid-input', op: 'gate results', value: resultFiles.join(', '), reason: 'no scenario phase in the results; run the suites first' });
  }

  if (values.write) return writeBaseline(results, baselineFile);

  const baseline = await readBaseline(baselineFile);
  const report = compareWithBaseline(baseline, results, values.target);
  const width = Math.max(...report.lines.map((line) => line.key.length));
  for (const line of report.lines) {
    const mark = FAILING.has(line.status) ? 'FAIL' : '    ';
    process.stdout.write(`${mark} ${line.key.padEnd(width)}  ${line.status.padEnd(14)} ${line.detail}\n`);
  }
  const counts = new Map<string, number>();
  for (const line of report.lines) counts.set(line.status, (counts.get(line.status) ?? 0) + 1);
  const summary = [...counts].map(([status, count]) => `${count} ${status}`).join(', ');
  process.stdout.write(`gate against ${path.relative(process.cwd(), baselineFile) || baselineFile}: ${summary}\n`);
  const phases = report.failed === 1 ? 'phase' : 'phases';
  process.stdout.write(report.failed === 0 ? 'gate passed\n' : `gate failed: ${report.failed} ${phases}\n`);
  return report.failed === 0 ? 0 : 1;
}

async function writeBaseline(results: ResultsFile, file: string): Promise<number> {
  const failed = results.entries.filter((entry) => entry.verdict === 'failed');
  if (failed.length > 0) {
    const names = failed.map((entry) => `${entry.target} ${entry.scenario} ${entry.phase}`).join('; ');
    throw new IsolabError({ kind: 'invalid-input', op: 'write baseline', value: file, reason: `the run has failed phases (${names}); a baseline records an accepted run` });
  }
  const old = existsSync(file) ? await readBaseline(file).catch((err: Error) => {
    process.stdout.write(`replacing the whole baseline, since the old one cannot be kept: ${err.message}\n`);
    return undefined;
  }) : undefined;
  const baseline = mergeBaselines(old, baselineFrom(results));
  try {
    await writeFile(file, `${JSON.stringify(baseline, null, 2)}\n`);
  } catch (err) {
    throw fromSystemError('write baseline', file, err);
  }
  const written = [...new Set(results.entries.map((entry) => entry.target))].sort();
  const keptTargets = [...new Set(baseline.phases.map((phase) => phase.target))]
    .filter((target) => !written.includes(target)).sort();
  process.stdout.write(`baseline ${file}: ${baseline.phases.length} phases; written for ${written.join(', ')}`
    + `${keptTargets.length ? `; kept for ${keptTargets.join(', ')}` : ''}\n`);
  return 0;
}

/** Returns true when the default baseline exists, so `isolab suites` can gate its run. */
export function hasDefaultBaseline(): boolean {
  return existsSync(DEFAULT_BASELINE);
}
