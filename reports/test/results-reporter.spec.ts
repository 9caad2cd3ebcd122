import { expect, test } from '@playwright/test';
import type { FullResult, TestCase, TestResult } from '@playwright/test/reporter';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import ResultsReporter from '../results-reporter.js';
import { ATTACHMENT_NAME, type PhaseAttachment, type ResultsFile } from '../model.js';
import { atLeast } from '../../scenarios/framework/checks.js';

type Status = TestResult['status'];
type Annotation = TestResult['annotations'][number];

function phaseData(scenario: string, phase: PhaseAttachment['phase']): PhaseAttachment {
  return {
    target: 'qemu-debian-6.1-v2',
    kernelRelease: '6.1.0-25-amd64',
    cgroupVersion: 2,
    vcpus: 2,
    memoryMiB: 1024,
    swapMiB: 0,
    scenario,
    phase,
    checks: [atLeast('victim forks 64 children', 64, 64)],
    offenderChecks: [],
    metrics: { children: 64 },
    samples: {},
    wallMs: 1500,
  };
}

/** Returns a TestCase with the fields the reporter reads, and annotations it must ignore. */
function fakeTest(id: string, expectedStatus: Status = 'passed', annotations: Annotation[] = []):
  TestCase {
  const titlePath = () => ['', 'qemu-debian-6.1-v2', 'isolation.spec.ts', 'forkbomb', id];
  return { id, expectedStatus, annotations, titlePath } as unknown as TestCase;
}

/** Returns a TestResult with only the fields the reporter reads. */
function fakeResult(status: Status, data?: PhaseAttachment, annotations: Annotation[] = []):
  TestResult {
  const body = data ? Buffer.from(JSON.stringify(data)) : undefined;
  const contentType = 'application/json';
  const attachments = body ? [{ name: ATTACHMENT_NAME, contentType, body }] : [];
  return { status, attachments, annotations, duration: 2000 } as unknown as TestResult;
}

let dir: string;
let outputFile: string;

test.beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'isolab-results-'));
  outputFile = path.join(dir, 'results', 'results.json');
});

test.afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

let printed: string[];

/** Feeds `[test, result]` pairs to a reporter and returns the results.json it wrote. */
function report(runs: Array<[TestCase, TestResult]>): ResultsFile {
  const reporter = new ResultsReporter({ outputFile });
  for (const [testCase, result] of runs) reporter.onTestEnd(testCase, result);

  // onEnd prints the report's path, which the tests collect instead of printing.
  const write = process.stdout.write;
  printed = [];
  process.stdout.write = ((text: string) => printed.push(text) > 0) as typeof write;
  try {
    reporter.onEnd({ status: 'passed', startTime: new Date(), duration: 61_000 } as FullResult);
  } finally {
    process.stdout.write = write;
  }
  return JSON.parse(readFileSync(outputFile, 'utf8')) as ResultsFile;
}

// Cases as [expected status, status, verdict]. A test that calls test.fail() expects failed.
const verdictCases: Array<[Status, Status, string]> = [
  ['passed', 'passed', 'passed'],
  ['passed', 'failed', 'failed'],
  ['passed', 'timedOut', 'failed'],
  ['passed', 'interrupted', 'failed'],
  ['passed', 'skipped', 'skipped'],
  ['skipped', 'skipped', 'skipped'],
  ['failed', 'failed', 'expected-failure'],
  ['failed', 'timedOut', 'failed'],
  ['failed', 'passed', 'failed'],
];

for (const [expectedStatus, status, verdict] of verdictCases) {
  test(`${status} expecting ${expectedStatus} is ${verdict}`, () => {
    const result = fakeResult(status, phaseData('forkbomb', 'attack'));
    const file = report([[fakeTest('t1', expectedStatus), result]]);

    expect(file.entries[0].verdict).toBe(verdict);
  });
}

test('entry copies the phase data', () => {
  const data = phaseData('forkbomb', 'attack');
  const entry = report([[fakeTest('t1'), fakeResult('passed', data)]]).entries[0];

  expect(entry).toMatchObject({ ...data });
  expect(entry.test).toBe('qemu-debian-6.1-v2 > isolation.spec.ts > forkbomb > t1');
  expect(entry.durationMs).toBe(2000);
});

test('finding comes from result annotations', () => {
  const finding = { type: 'finding', description: 'pids.max ignores threads' };
  const result = fakeResult('failed', phaseData('forkbomb', 'attack'), [finding]);
  const entry = report([[fakeTest('t1', 'failed'), result]]).entries[0];

  expect(entry.finding).toBe('pids.max ignores threads');
});

test('finding ignores test case annotations', () => {
  const stale = { type: 'finding', description: 'from an earlier attempt' };
  const result = fakeResult('failed', phaseData('forkbomb', 'attack'));
  const entry = report([[fakeTest('t1', 'passed', [stale]), result]]).entries[0];

  expect(entry).not.toHaveProperty('finding');
});

test('other annotation types are ignored', () => {
  const issue = { type: 'issue', description: 'tracked as ISOLAB-1' };
  const result = fakeResult('passed', phaseData('forkbomb', 'attack'), [issue]);
  const entry = report([[fakeTest('t1'), result]]).entries[0];

  expect(entry).not.toHaveProperty('finding');
});

test('retried test counts once', () => {
  const data = phaseData('forkbomb', 'attack');
  const file = report([
    [fakeTest('t1'), fakeResult('failed', data)],
    [fakeTest('t1'), fakeResult('passed', data)],
  ]);

  expect(file.entries).toHaveLength(1);
  expect(file.entries[0].verdict).toBe('passed');
  expect(file.totals.failed).toBe(0);
  expect(file.totals.passed).toBe(1);
});

test('retry without attachment takes its verdict', () => {
  const file = report([
    [fakeTest('t1'), fakeResult('failed', phaseData('forkbomb', 'attack'))],
    [fakeTest('t1'), fakeResult('skipped')],
  ]);

  expect(file.entries).toHaveLength(1);
  expect(file.entries[0].verdict).toBe('skipped');
  expect(file.entries[0].phase).toBe('attack');
});

test('test without attachment is left out', () => {
  const file = report([
    [fakeTest('t1'), fakeResult('passed')],
    [fakeTest('t2'), fakeResult('passed', phaseData('forkbomb', 'baseline'))],
  ]);

  expect(file.entries).toHaveLength(1);
  expect(file.entries[0].phase).toBe('baseline');
});

test('totals count each verdict', () => {
  const file = report([
    [fakeTest('t1'), fakeResult('passed', phaseData('forkbomb', 'baseline'))],
    [fakeTest('t2'), fakeResult('passed', phaseData('paging', 'baseline'))],
    [fakeTest('t3'), fakeResult('failed', phaseData('forkbomb', 'attack'))],
    [fakeTest('t4'), fakeResult('skipped', phaseData('paging', 'attack'))],
    [fakeTest('t5', 'failed'), fakeResult('failed', phaseData('dentry', 'attack'))],
  ]);

  expect(file.totals).toEqual({ passed: 2, failed: 1, skipped: 1, 'expected-failure': 1 });
});

test('results file header', () => {
  const file = report([]);

  expect(file.schemaVersion).toBe(1);
  expect(file.wallMs).toBe(61_000);
  expect(Number.isNaN(Date.parse(file.startedAt))).toBe(false);
  expect(file.entries).toEqual([]);
});

test('no HTML report without entries', () => {
  report([[fakeTest('t1'), fakeResult('passed')]]);

  expect(existsSync(outputFile)).toBe(true);
  expect(existsSync(path.join(dir, 'results', 'isolation-report.html'))).toBe(false);
  expect(printed).toEqual([]);
});

test('HTML report next to results file', () => {
  report([[fakeTest('t1'), fakeResult('passed', phaseData('forkbomb', 'attack'))]]);
  const htmlFile = path.join(dir, 'results', 'isolation-report.html');
  const html = readFileSync(htmlFile, 'utf8');

  expect(html).toContain('forkbomb on qemu-debian-6.1-v2');
  expect(printed).toEqual([`isolation report: ${htmlFile}\n`]);
});
