import { expect, test } from '@playwright/test';
import type { FullResult, TestCase, TestResult } from '@playwright/test/reporter';

import SummaryReporter from '../summary-reporter.js';

type Status = TestResult['status'];

interface Attempt { status: Status; retry: number }

/** Returns a TestCase whose outcome follows Playwright's rule for its attempts. */
function fakeTest(expectedStatus: Status, retries: number, attempts: Attempt[]): TestCase {
  const outcome = () => {
    const last = attempts[attempts.length - 1];
    if (last.status === 'skipped') return 'skipped';
    if (last.status !== expectedStatus) return 'unexpected';
    return attempts.length > 1 ? 'flaky' : 'expected';
  };
  return { expectedStatus, retries, outcome } as unknown as TestCase;
}

/** Feeds each test's attempts to a reporter and returns its last printed line. */
function summarize(tests: Array<{ expectedStatus: Status; retries: number; statuses: Status[] }>): string {
  const reporter = new SummaryReporter();
  for (const { expectedStatus, retries, statuses } of tests) {
    const attempts: Attempt[] = [];
    for (const [retry, status] of statuses.entries()) {
      attempts.push({ status, retry });
      reporter.onTestEnd(fakeTest(expectedStatus, retries, attempts), { status, retry } as TestResult);
    }
  }

  const printed: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((text: string) => printed.push(text) > 0) as typeof write;
  try {
    reporter.onEnd({ status: 'passed' } as FullResult);
  } finally {
    process.stdout.write = write;
  }
  return printed.join('').trimEnd().split('\n').pop() ?? '';
}

// Cases as [name, expected status, retries, each attempt's status, last line].
const cases: Array<[string, Status, number, Status[], string]> = [
  ['pass', 'passed', 0, ['passed'], '1 passed, 0 failed, 0 skipped'],
  ['fail without retries', 'passed', 0, ['failed'], '0 passed, 1 failed, 0 skipped'],
  ['fail on every retry', 'passed', 1, ['failed', 'failed'], '0 passed, 1 failed, 0 skipped'],
  ['pass on retry', 'passed', 1, ['timedOut', 'passed'], '1 passed, 0 failed, 0 skipped'],
  ['skip', 'skipped', 1, ['skipped'], '0 passed, 0 failed, 1 skipped'],
  ['expected failure with retries', 'failed', 1, ['failed'], '1 passed, 0 failed, 0 skipped'],
  ['marked failing but passes', 'failed', 0, ['passed'], '0 passed, 1 failed, 0 skipped'],
];

for (const [name, expectedStatus, retries, statuses, line] of cases) {
  test(`summary counts ${name}`, () => {
    expect(summarize([{ expectedStatus, retries, statuses }])).toBe(line);
  });
}
