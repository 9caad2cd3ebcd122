// The baseline gate compares a run's results.json with a baseline written
// from an earlier, accepted run. It fails on a phase that held and no longer
// does, a phase or a check that went missing, and a new finding. Margins are
// reported but never judged, because under TCG they vary from run to run.
import type { CheckResult } from '../scenarios/framework/types.js';
import type { ResultEntry, ResultsFile, Verdict } from './model.js';

export const BASELINE_SCHEMA_VERSION = 1;

/** One phase of the baseline: its verdict and the names of its checks. */
export interface BaselinePhase {
  target: string;
  scenario: string;
  phase: string;
  verdict: Verdict;
  checks: string[];
  /** Each check's margin to its bound when the baseline was written, for the report only. */
  margins: Record<string, number>;
}

/** The baseline file. */
export interface Baseline {
  schemaVersion: number;
  /** When the run that the baseline comes from started. */
  runStartedAt: string;
  phases: BaselinePhase[];
}

/** The gate's verdict on one phase. */
export type GateStatus =
  | 'held'
  | 'regressed'
  | 'missing'
  | 'check-missing'
  | 'new-finding'
  | 'improved'
  | 'new'
  | 'target-not-run';

/** The statuses that fail the gate. */
export const FAILING: ReadonlySet<GateStatus> = new Set(['regressed', 'missing', 'check-missing', 'new-finding']);

/** One line of the gate's report. */
export interface GateLine {
  key: string;
  status: GateStatus;
  detail: string;
}

/** The gate's report: one line per phase in the baseline or the run. */
export interface GateReport {
  lines: GateLine[];
  failed: number;
}

/** Returns the fraction of its bound by which a check clears it; negative when it fails. */
export function marginOf(check: CheckResult): number {
  if (check.kind === 'within') return check.limit === 0 ? 0 : (check.limit - check.error) / check.limit;
  const scale = Math.abs(check.limit) || 1;
  const gap = check.kind === 'at-most' ? check.limit - check.actual : check.actual - check.limit;
  return gap / scale;
}

function keyOf(entry: { target: string; scenario: string; phase: string }): string {
  return `${entry.target} ${entry.scenario} ${entry.phase}`;
}

function checksOf(entry: ResultEntry): CheckResult[] {
  return [...entry.checks, ...entry.offenderChecks];
}

/** Builds a baseline from a run's results. */
export function baselineFrom(results: ResultsFile): Baseline {
  const phases = results.entries.map((entry): BaselinePhase => ({
    target: entry.target,
    scenario: entry.scenario,
    phase: entry.phase,
    verdict: entry.verdict,
    checks: checksOf(entry).map((check) => check.name),
    margins: Object.fromEntries(checksOf(entry).map((check) => [check.name, round(marginOf(check))])),
  }));
  phases.sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  return { schemaVersion: BASELINE_SCHEMA_VERSION, runStartedAt: results.startedAt, phases };
}

function round(value: number): number {
  return Number.isFinite(value) ? Math.round(value * 1000) / 1000 : value;
}

/** Judges one phase that is in both the baseline and the run. */
function judge(before: BaselinePhase, entry: ResultEntry): Omit<GateLine, 'key'> {
  const now = entry.verdict;
  const heldBefore = before.verdict === 'passed' || before.verdict === 'expected-failure';
  if (heldBefore && (now === 'failed' || now === 'skipped')) {
    const broken = checksOf(entry).filter((check) => !check.pass).map((check) => check.name);
    const cause = now === 'skipped' ? `skipped: ${entry.skipped ?? 'no reason'}` : `failed: ${broken.join('; ') || 'no failed check recorded'}`;
    return { status: 'regressed', detail: `${before.verdict} before, ${cause}` };
  }
  if (before.verdict === 'passed' && now === 'expected-failure') {
    return { status: 'new-finding', detail: entry.finding ?? 'expected failure without a finding' };
  }
  const names = new Set(checksOf(entry).map((check) => check.name));
  const lost = now === 'skipped' ? [] : before.checks.filter((name) => !names.has(name));
  if (lost.length > 0) return { status: 'check-missing', detail: `no longer checked: ${lost.join('; ')}` };
  if (before.verdict === 'expected-failure' && now === 'passed') {
    return { status: 'improved', detail: 'the finding no longer reproduces; update scenarios/findings.ts' };
  }
  if (before.verdict !== 'passed' && now === 'passed') return { status: 'improved', detail: `${before.verdict} before` };
  return { status: 'held', detail: marginChanges(before, entry) };
}

/** Formats the smallest margin now and in the baseline, for the report. */
function marginChanges(before: BaselinePhase, entry: ResultEntry): string {
  // A zero bound (no EAGAIN, no OOM kill) has no margin to speak of, so it is left out.
  const checks = checksOf(entry).filter((check) => check.kind === 'within' || check.limit !== 0);
  if (checks.length === 0) return entry.verdict;
  const tightest = checks.reduce((a, b) => (marginOf(a) <= marginOf(b) ? a : b));
  const was = before.margins[tightest.name];
  const wasText = was === undefined ? '' : `, ${formatMargin(was)} before`;
  return `${entry.verdict}; tightest: ${tightest.name} at ${formatMargin(marginOf(tightest))} margin${wasText}`;
}

function formatMargin(value: number): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(0)}%` : String(value);
}

/** Compares a run with the baseline. Targets that the run did not include are reported, not failed. */
export function compareWithBaseline(baseline: Baseline, results: ResultsFile): GateReport {
  const ran = new Map(results.entries.map((entry) => [keyOf(entry), entry]));
  const targetsRun = new Set(results.entries.map((entry) => entry.target));
  const lines: GateLine[] = [];
  const notRun = new Map<string, number>();

  for (const before of baseline.phases) {
    const key = keyOf(before);
    const entry = ran.get(key);
    ran.delete(key);
    if (entry) lines.push({ key, ...judge(before, entry) });
    else if (!targetsRun.has(before.target)) notRun.set(before.target, (notRun.get(before.target) ?? 0) + 1);
    else lines.push({ key, status: 'missing', detail: `${before.verdict} before, not in this run` });
  }
  for (const [target, count] of notRun) {
    lines.push({ key: target, status: 'target-not-run', detail: `this run did not include the target's ${count} phases` });
  }

  for (const [key, entry] of ran) {
    if (entry.verdict === 'failed') lines.push({ key, status: 'regressed', detail: 'new phase, failed' });
    else if (entry.verdict === 'expected-failure') lines.push({ key, status: 'new-finding', detail: entry.finding ?? 'expected failure without a finding' });
    else lines.push({ key, status: 'new', detail: `new phase, ${entry.verdict}` });
  }

  return { lines, failed: lines.filter((line) => FAILING.has(line.status)).length };
}
