import { expect, test } from '@playwright/test';

import { atLeast, atMost, within } from '../../scenarios/framework/checks.js';
import type { CheckResult, Phase } from '../../scenarios/framework/types.js';
import {
  baselineFrom, baselineProblem, compareWithBaseline, marginOf, mergeBaselines, resultsProblem,
  type GateStatus,
} from '../gate.js';
import type { ResultEntry, ResultsFile, Verdict } from '../model.js';
import { resultEntry, resultsFile } from './fixtures.js';

function entry(
  scenario: string,
  phase: Phase,
  verdict: Verdict,
  checks: CheckResult[] = [atMost('victim sees no EAGAIN', 0, 0)],
  target = 'qemu-debian-6.1-v2',
): ResultEntry {
  return resultEntry(target, scenario, phase, verdict, { checks });
}

function run(...entries: ResultEntry[]): ResultsFile {
  return resultsFile(entries);
}

/** Returns the gate's status for each phase, keyed by "scenario phase". */
function statuses(before: ResultsFile, after: ResultsFile): Record<string, GateStatus> {
  const report = compareWithBaseline(baselineFrom(before), after);
  return Object.fromEntries(report.lines.map((line) => [line.key.split(' ').slice(1).join(' '), line.status]));
}

const accepted = run(
  entry('forkbomb', 'baseline', 'passed'),
  entry('forkbomb', 'control', 'passed'),
  entry('paging', 'attack', 'passed'),
);

test('identical run holds', () => {
  const report = compareWithBaseline(baselineFrom(accepted), accepted);

  expect(report.failed).toBe(0);
  expect(report.lines.map((line) => line.status)).toEqual(['held', 'held', 'held']);
});

// Cases as [name, the phase forkbomb baseline in the new run, expected status, fails the gate].
const phaseCases: Array<[string, ResultEntry | undefined, GateStatus, boolean]> = [
  ['failed phase regresses', entry('forkbomb', 'baseline', 'failed', [atMost('victim sees no EAGAIN', 3, 0)]), 'regressed', true],
  ['skipped phase regresses', entry('forkbomb', 'baseline', 'skipped', []), 'regressed', true],
  ['absent phase is missing', undefined, 'missing', true],
  ['dropped check is missing', entry('forkbomb', 'baseline', 'passed', [atLeast('victim forks 100 children', 100, 100)]), 'check-missing', true],
  ['expected failure is a new finding', entry('forkbomb', 'baseline', 'expected-failure'), 'new-finding', true],
];

for (const [name, changed, status, fails] of phaseCases) {
  test(`gate: ${name}`, () => {
    const others = accepted.entries.filter((e) => !(e.scenario === 'forkbomb' && e.phase === 'baseline'));
    const after = run(...(changed ? [changed] : []), ...others);
    const report = compareWithBaseline(baselineFrom(accepted), after);
    const line = report.lines.find((l) => l.key.endsWith('forkbomb baseline'));

    expect(line?.status).toBe(status);
    expect(report.failed).toBe(fails ? 1 : 0);
  });
}

test('regression names the failed check', () => {
  const after = run(
    entry('forkbomb', 'baseline', 'failed', [atMost('victim sees no EAGAIN', 3, 0)]),
    ...accepted.entries.slice(1),
  );
  const report = compareWithBaseline(baselineFrom(accepted), after);

  expect(report.lines[0].detail).toContain('victim sees no EAGAIN');
});

test('finding that stops reproducing improves', () => {
  const before = run(entry('paging', 'attack', 'expected-failure'));
  const after = run(entry('paging', 'attack', 'passed'));

  expect(statuses(before, after)).toEqual({ 'paging attack': 'improved' });
  expect(compareWithBaseline(baselineFrom(before), after).failed).toBe(0);
});

test('target not run is not failed', () => {
  const before = run(entry('forkbomb', 'baseline', 'passed', undefined, 'qemu-debian-5.10-v1'), ...accepted.entries);
  const report = compareWithBaseline(baselineFrom(before), accepted);

  expect(report.lines.find((l) => l.key.startsWith('qemu-debian-5.10-v1'))?.status).toBe('target-not-run');
  expect(report.failed).toBe(0);
});

test('new phases pass unless failed', () => {
  const after = run(
    ...accepted.entries,
    entry('exec', 'attack', 'passed'),
    entry('exec', 'control', 'failed'),
    entry('stats', 'attack', 'expected-failure'),
  );
  const found = statuses(accepted, after);

  expect(found['exec attack']).toBe('new');
  expect(found['exec control']).toBe('regressed');
  expect(found['stats attack']).toBe('new-finding');
});

test('held line shows the tightest margin', () => {
  const checks = [within('victim share', 0.44, 0.5, 0.15), atMost('EAGAIN', 0, 0)];
  const before = run(entry('cpushare', 'attack', 'passed', checks));
  const report = compareWithBaseline(baselineFrom(before), before);

  expect(report.lines[0].detail).toContain('tightest: victim share at 20% margin, 20% before');
});

// Cases as [check, margin].
const marginCases: Array<[CheckResult, number]> = [
  [atMost('at most, half used', 5, 10), 0.5],
  [atMost('at most, at the bound', 10, 10), 0],
  [atMost('at most, over', 15, 10), -0.5],
  [atMost('at most zero', 0, 0), 0],
  [atLeast('at least, double', 20, 10), 1],
  [atLeast('at least, under', 5, 10), -0.5],
  [within('within, exact', 1, 1, 0.1), 1],
  [within('within, at tolerance', 1.1, 1, 0.1), 0],
];

for (const [check, margin] of marginCases) {
  test(`marginOf ${check.name}`, () => {
    expect(marginOf(check)).toBeCloseTo(margin, 9);
  });
}

test('baseline is sorted with margins', () => {
  const baseline = baselineFrom(accepted);

  expect(baseline.phases.map((p) => `${p.scenario} ${p.phase}`)).toEqual(['forkbomb baseline', 'forkbomb control', 'paging attack']);
  expect(baseline.phases[0].margins).toEqual({ 'victim sees no EAGAIN': 0 });
  expect(baseline.runStartedAt).toBe('2026-12-04T20:00:00.000Z');
});

// Cases as [name, verdict in the baseline, verdict now, expected status].
const verdictCases: Array<[string, Verdict, Verdict, GateStatus]> = [
  ['skipped then failed', 'skipped', 'failed', 'regressed'],
  ['skipped then expected failure', 'skipped', 'expected-failure', 'new-finding'],
  ['skipped then skipped', 'skipped', 'skipped', 'held'],
  ['skipped then passed', 'skipped', 'passed', 'improved'],
  ['finding then failed', 'expected-failure', 'failed', 'regressed'],
  ['finding then finding', 'expected-failure', 'expected-failure', 'held'],
];

for (const [name, before, now, status] of verdictCases) {
  test(`gate: ${name}`, () => {
    const checks = now === 'failed' ? [atMost('victim sees no EAGAIN', 3, 0)] : undefined;
    const found = statuses(run(entry('stats', 'attack', before)), run(entry('stats', 'attack', now, checks)));

    expect(found['stats attack']).toBe(status);
  });
}

const brokenControl = [atLeast('victim forks 100 children', 0, 100), atMost('victim sees no EAGAIN', 100, 0)];

test('control that breaks none of its checks', () => {
  const weaker = [atLeast('victim forks 100 children', 100, 100), atMost('victim sees no EAGAIN', 0, 0)];
  const before = run(entry('forkbomb', 'control', 'passed', brokenControl));
  const report = compareWithBaseline(baselineFrom(before), run(entry('forkbomb', 'control', 'passed', weaker)));

  expect(report.lines[0].status).toBe('control-weakened');
  expect(report.lines[0].detail).toContain('victim sees no EAGAIN');
  expect(report.failed).toBe(1);
});

test('control that still breaks one check', () => {
  const partial = [atLeast('victim forks 100 children', 0, 100), atMost('victim sees no EAGAIN', 0, 0)];
  const before = run(entry('forkbomb', 'control', 'passed', brokenControl));
  const report = compareWithBaseline(baselineFrom(before), run(entry('forkbomb', 'control', 'passed', partial)));

  expect(report.lines[0].status).toBe('held');
  expect(report.lines[0].detail).toContain('no longer broken: victim sees no EAGAIN');
  expect(report.failed).toBe(0);
});

test('requested target without results fails', () => {
  const report = compareWithBaseline(baselineFrom(accepted), run(), ['qemu-debian-6.1-v2']);

  expect(report.lines.map((line) => line.status)).toEqual(['missing', 'missing', 'missing']);
  expect(report.failed).toBe(3);
});

test('tightest margin skips exact counts', () => {
  const checks = [atLeast('victim forks 100 children', 100, 100), atMost('time ratio', 2, 4)];
  const before = run(entry('forkbomb', 'attack', 'passed', checks));
  const report = compareWithBaseline(baselineFrom(before), before);

  expect(report.lines[0].detail).toContain('tightest: time ratio at 50% margin');
});

test('control phase shows no margin', () => {
  const before = run(entry('forkbomb', 'control', 'passed', [atMost('victim sees no EAGAIN', 100, 0)]));

  expect(compareWithBaseline(baselineFrom(before), before).lines[0].detail).toBe('passed');
});

test('merge keeps targets the run left out', () => {
  const old = baselineFrom(run(
    entry('forkbomb', 'attack', 'passed', undefined, 'qemu-debian-5.10-v1'),
    entry('forkbomb', 'attack', 'passed'),
  ));
  const fresh = baselineFrom(run(entry('paging', 'attack', 'passed')));
  const merged = mergeBaselines(old, fresh);

  expect(merged.phases.map((p) => `${p.target} ${p.scenario}`)).toEqual([
    'qemu-debian-5.10-v1 forkbomb',
    'qemu-debian-6.1-v2 paging',
  ]);
});

// Cases as [name, parsed results.json, the problem it must name].
const resultsCases: Array<[string, unknown, string | undefined]> = [
  ['null', null, 'no entries list'],
  ['array', [], 'no entries list'],
  ['entries object', { entries: { a: 1 } }, 'no entries list'],
  ['empty entry', { entries: [{}] }, 'entry 0 has no target'],
  ['unknown verdict', { entries: [{ ...entry('a', 'attack', 'passed'), verdict: 'ok' }] }, 'entry 0 has an unknown verdict "ok"'],
  ['no checks', { entries: [{ ...entry('a', 'attack', 'passed'), checks: undefined }] }, 'entry 0 has no valid checks list'],
  ['valid', run(entry('a', 'attack', 'passed')), undefined],
];

for (const [name, data, problem] of resultsCases) {
  test(`resultsProblem: ${name}`, () => {
    expect(resultsProblem(data)).toBe(problem);
  });
}

// Cases as [name, parsed baseline, the start of the problem it must name].
const baselineCases: Array<[string, unknown, string | undefined]> = [
  ['old schema', { schemaVersion: 1, phases: [] }, 'schema version 1, expected 2'],
  ['no phases', { schemaVersion: 2 }, 'no phases list'],
  ['phase without checks', { schemaVersion: 2, phases: [{ target: 't', scenario: 's', phase: 'attack', verdict: 'passed' }] }, 'phase 0 has no checks'],
  ['valid', baselineFrom(accepted), undefined],
];

for (const [name, data, problem] of baselineCases) {
  test(`baselineProblem: ${name}`, () => {
    const found = baselineProblem(data);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found?.startsWith(problem)).toBe(true);
  });
}
