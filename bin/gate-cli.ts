// `isolab gate`: the baseline gate for CI. Compares results.json with a
// baseline and exits 1 when a phase regressed, went missing, lost a check or
// became a new finding. `--write` makes the baseline from accepted runs.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fromSystemError, IsolabError } from '../engine/errors.js';
import {
  BASELINE_SCHEMA_VERSION, baselineFrom, compareWithBaseline, FAILING, type Baseline,
} from '../reports/gate.js';
import type { ResultsFile } from '../reports/model.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');

/** The baseline that `isolab gate` and `isolab suites` use by default. */
export const DEFAULT_BASELINE = path.join(repoRoot, 'reports/baseline.json');

export const GATE_USAGE = `usage: isolab gate [--results FILE]... [--baseline FILE] [--write]
  Compares the run's results with the baseline and exits 1 when a phase that
  held now fails or is skipped, a phase or one of its checks is missing, or a
  phase became a new finding. Targets the run did not include are listed, not
  failed. Margins to each bound are printed but not judged.
  --results   results.json of the run (default results/results.json); repeat
              to combine runs of several targets
  --baseline  the baseline (default reports/baseline.json)
  --write     write the baseline from the results instead; a run with a
              failed phase is rejected`;

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

/** Reads and merges results files; a later file's phase replaces an earlier one's. */
export async function readResults(files: string[]): Promise<ResultsFile> {
  const all = await Promise.all(files.map((file) => readJson<ResultsFile>(file, 'results')));
  const entries = new Map<string, ResultsFile['entries'][number]>();
  for (const results of all) {
    for (const entry of results.entries ?? []) entries.set(`${entry.target} ${entry.scenario} ${entry.phase}`, entry);
  }
  const merged = [...entries.values()];
  const startedAt = all.map((results) => results.startedAt).sort()[0] ?? new Date(0).toISOString();
  const totals = { passed: 0, failed: 0, skipped: 0, 'expected-failure': 0 };
  for (const entry of merged) totals[entry.verdict]++;
  return { schemaVersion: all[0]?.schemaVersion ?? 1, startedAt, wallMs: 0, totals, entries: merged };
}

/** Runs the gate, or writes the baseline, and returns the exit code. */
export async function runGate(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      results: { type: 'string', multiple: true },
      baseline: { type: 'string' },
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
  if (results.entries.length === 0) {
    throw new IsolabError({ kind: 'invalid-input', op: 'gate results', value: resultFiles.join(', '), reason: 'no scenario phase in the results; run the suites first' });
  }

  if (values.write) return writeBaseline(results, baselineFile);

  const baseline = await readJson<Baseline>(baselineFile, 'baseline');
  if (baseline.schemaVersion !== BASELINE_SCHEMA_VERSION) {
    throw new IsolabError({ kind: 'unsupported', op: 'read baseline', value: baselineFile, reason: `schema version ${baseline.schemaVersion}, expected ${BASELINE_SCHEMA_VERSION}` });
  }
  const report = compareWithBaseline(baseline, results);
  const width = Math.max(...report.lines.map((line) => line.key.length));
  for (const line of report.lines) {
    const mark = FAILING.has(line.status) ? 'FAIL' : '    ';
    process.stdout.write(`${mark} ${line.key.padEnd(width)}  ${line.status.padEnd(14)} ${line.detail}\n`);
  }
  const counts = new Map<string, number>();
  for (const line of report.lines) counts.set(line.status, (counts.get(line.status) ?? 0) + 1);
  const summary = [...counts].map(([status, count]) => `${count} ${status}`).join(', ');
  process.stdout.write(`gate against ${path.relative(process.cwd(), baselineFile) || baselineFile}: ${summary}\n`);
  process.stdout.write(report.failed === 0 ? 'gate passed\n' : `gate failed: ${report.failed} phases\n`);
  return report.failed === 0 ? 0 : 1;
}

async function writeBaseline(results: ResultsFile, file: string): Promise<number> {
  const failed = results.entries.filter((entry) => entry.verdict === 'failed');
  if (failed.length > 0) {
    const names = failed.map((entry) => `${entry.target} ${entry.scenario} ${entry.phase}`).join('; ');
    throw new IsolabError({ kind: 'invalid-input', op: 'write baseline', value: file, reason: `the run has failed phases (${names}); a baseline records an accepted run` });
  }
  const baseline = baselineFrom(results);
  await writeFile(file, `${JSON.stringify(baseline, null, 2)}\n`);
  const targets = new Set(baseline.phases.map((phase) => phase.target));
  process.stdout.write(`baseline ${file}: ${baseline.phases.length} phases on ${[...targets].sort().join(', ')}\n`);
  return 0;
}

/** Returns true when the default baseline exists, so `isolab suites` can gate its run. */
export function hasDefaultBaseline(): boolean {
  return existsSync(DEFAULT_BASELINE);
}
