// The baseline gate compares a run's results.json with a baseline written
// from earlier, accepted runs. It fails on a failed phase, a phase or check
// that went missing, a weaker control and a new finding. Margins are
// reported but never judged, because under TCG they vary from run to run.
import type { CheckResult } from '../scenarios/framework/types.js';
import type { ResultEntry, ResultsFile, Verdict } from './model.js';

export const BASELINE_SCHEMA_VERSION = 2;

/** One phase of the baseline: its verdict and the names of its checks. */
export interface BaselinePhase {
  target: string;
  scenario: string;
  phase: string;
  verdict: Verdict;
  checks: string[];
  /** The checks that failed: in a control phase, the ones the control must go on breaking. */
  failedChecks: string[];
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
  | 'control-weakened'
  | 'improved'
  | 'new'
  | 'target-not-run';

/** The statuses that fail the gate. */
export const FAILING: ReadonlySet<GateStatus> = new Set([
  'regressed', 'missing', 'check-missing', 'new-finding', 'control-weakened',
]);

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
  if (check.kind === 'within') return check.limit === 0 ? 0 : (check.limit - (check.error ?? NaN)) / check.limit;
  const actual = check.actual ?? NaN;
  const scale = Math.abs(check.limit) || 1;
  const gap = check.kind === 'at-most' ? check.limit - actual : actual - check.limit;
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
    failedChecks: checksOf(entry).filter((check) => !check.pass).map((check) => check.name),
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
  if (now === 'failed') {
    const broken = checksOf(entry).filter((check) => !check.pass).map((check) => check.name);
    return { status: 'regressed', detail: `${before.verdict} before, failed: ${broken.join('; ') || 'no failed check recorded'}` };
  }
  if (now === 'skipped' && (before.verdict === 'passed' || before.verdict === 'expected-failure')) {
    return { status: 'regressed', detail: `${before.verdict} before, skipped: ${entry.skipped ?? 'no reason'}` };
  }
  if (now === 'expected-failure' && before.verdict !== 'expected-failure') {
    return { status: 'new-finding', detail: entry.finding ?? 'expected failure without a finding' };
  }

  const names = new Set(checksOf(entry).map((check) => check.name));
  const lost = now === 'skipped' ? [] : before.checks.filter((name) => !names.has(name));
  if (lost.length > 0) return { status: 'check-missing', detail: `no longer checked: ${lost.join('; ')}` };

  // A control must still break one of the checks it broke before. Which of them break
  // varies under TCG (a slowed victim or an OOM-killed one), so a partial change is only reported.
  let unbrokenNote = '';
  if (entry.phase === 'control' && now === 'passed') {
    const failing = new Set(checksOf(entry).filter((check) => !check.pass).map((check) => check.name));
    const unbroken = before.failedChecks.filter((name) => !failing.has(name));
    if (unbroken.length > 0 && unbroken.length === before.failedChecks.length) {
      return { status: 'control-weakened', detail: `breaks none of the checks it broke before: ${unbroken.join('; ')}` };
    }
    if (unbroken.length > 0) unbrokenNote = `; no longer broken: ${unbroken.join('; ')}`;
  }

  if (before.verdict === 'expected-failure' && now === 'passed') {
    return { status: 'improved', detail: 'the finding no longer reproduces; update scenarios/findings.ts' };
  }
  if (before.verdict !== 'passed' && now === 'passed') return { status: 'improved', detail: `${before.verdict} before` };
  return { status: 'held', detail: `${marginChanges(before, entry)}${unbrokenNote}` };
}

/**
 * Formats the smallest margin now and in the baseline, for the report. It
 * leaves out control phases, which fail on purpose, zero bounds (no EAGAIN,
 * no OOM kill), and counts that sat exactly on their bound both times.
 */
function marginChanges(before: BaselinePhase, entry: ResultEntry): string {
  if (entry.phase === 'control') return entry.verdict;
  const checks = checksOf(entry).filter((check) => {
    if (check.kind !== 'within' && check.limit === 0) return false;
    return !(marginOf(check) === 0 && before.margins[check.name] === 0);
  });
  if (checks.length === 0) return entry.verdict;
  const tightest = checks.reduce((a, b) => (marginOf(a) <= marginOf(b) ? a : b));
  const was = before.margins[tightest.name];
  const wasText = was === undefined ? '' : `, ${formatMargin(was)} before`;
  return `${entry.verdict}; tightest: ${tightest.name} at ${formatMargin(marginOf(tightest))} margin${wasText}`;
}

function formatMargin(value: number): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(0)}%` : String(value);
}

/**
 * Compares a run with the baseline. The judged targets are `targets`, the
 * ones the run was asked for, or else those with an entry in the run. A
 * judged target must have all its baseline phases. Other targets are
 * reported, not failed.
 */
export function compareWithBaseline(baseline: Baseline, results: ResultsFile, targets?: string[]): GateReport {
  const ran = new Map(results.entries.map((entry) => [keyOf(entry), entry]));
  const targetsRun = new Set(targets ?? results.entries.map((entry) => entry.target));
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

/** Returns a baseline with the fresh phases, keeping the old phases of targets the fresh run left out. */
export function mergeBaselines(old: Baseline | undefined, fresh: Baseline): Baseline {
  const freshTargets = new Set(fresh.phases.map((phase) => phase.target));
  const keptPhases = (old?.phases ?? []).filter((phase) => !freshTargets.has(phase.target));
  const phases = [...keptPhases, ...fresh.phases].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  return { ...fresh, phases };
}

const VERDICTS: ReadonlySet<string> = new Set(['passed', 'failed', 'skipped', 'expected-failure']);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

function isCheck(value: unknown): boolean {
  return isObject(value) && typeof value.name === 'string' && typeof value.pass === 'boolean'
    // JSON writes a NaN measurement (no victim run finished) as null.
    && (typeof value.actual === 'number' || value.actual === null)
    && typeof value.limit === 'number' && typeof value.kind === 'string';
}

/** Returns what is wrong with a phase's identity and verdict, or undefined. */
function phaseProblem(value: unknown, index: number): string | undefined {
  if (!isObject(value)) return `item ${index} is not an object`;
  for (const field of ['target', 'scenario', 'phase']) {
    if (typeof value[field] !== 'string' || value[field] === '') return `item ${index} has no ${field}`;
  }
  if (!VERDICTS.has(value.verdict as string)) return `item ${index} has an unknown verdict ${JSON.stringify(value.verdict)}`;
  return undefined;
}

/** Returns what is wrong with a parsed results.json, or undefined when the gate can read it. */
export function resultsProblem(data: unknown): string | undefined {
  if (!isObject(data) || !Array.isArray(data.entries)) return 'no entries list';
  for (const [index, entry] of data.entries.entries()) {
    const problem = phaseProblem(entry, index);
    if (problem) return `entry ${problem.slice('item '.length)}`;
    const { checks, offenderChecks } = entry as Record<string, unknown>;
    if (!Array.isArray(checks) || !checks.every(isCheck)) return `entry ${index} has no valid checks list`;
    if (!Array.isArray(offenderChecks) || !offenderChecks.every(isCheck)) return `entry ${index} has no valid offenderChecks list`;
  }
  return undefined;
}

/** Returns what is wrong with a parsed baseline, or undefined when the gate can read it. */
export function baselineProblem(data: unknown): string | undefined {
  if (!isObject(data)) return 'not an object';
  if (data.schemaVersion !== BASELINE_SCHEMA_VERSION) {
    return `schema version ${JSON.stringify(data.schemaVersion)}, expected ${BASELINE_SCHEMA_VERSION}; write it again with isolab gate --write`;
  }
  if (!Array.isArray(data.phases)) return 'no phases list';
  for (const [index, phase] of data.phases.entries()) {
    const problem = phaseProblem(phase, index);
    if (problem) return `phase ${problem.slice('item '.length)}`;
    const { checks, failedChecks, margins } = phase as Record<string, unknown>;
    if (!isStringArray(checks) || !isStringArray(failedChecks) || !isObject(margins)) {
      return `phase ${index} has no checks, failedChecks or margins`;
    }
  }
  return undefined;
}
