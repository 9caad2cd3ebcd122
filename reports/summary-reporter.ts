import type { FullResult, Reporter, TestCase, TestResult } from '@playwright/test/reporter';

/** Prints the run's wall time and, as its last line, "N passed, N failed, N skipped" for CI. */
export default class SummaryReporter implements Reporter {
  private passed = 0;
  private failed = 0;
  private skipped = 0;
  private readonly started = Date.now();

  onTestEnd(test: TestCase, result: TestResult): void {
    // Count each test once, by its final outcome: Playwright retries only a result it did not expect.
    const unexpected = result.status !== test.expectedStatus && result.status !== 'skipped';
    if (unexpected && result.retry < test.retries) return;
    const outcome = test.outcome();
    if (outcome === 'skipped') this.skipped++;
    else if (outcome === 'expected' || outcome === 'flaky') this.passed++;
    else this.failed++;
  }

  onEnd(result: FullResult): void {
    const seconds = ((Date.now() - this.started) / 1000).toFixed(1);
    process.stdout.write(`\nwall time: ${seconds} s (${result.status})\n`);
    process.stdout.write(`${this.passed} passed, ${this.failed} failed, ${this.skipped} skipped\n`);
  }

  printsToStdio(): boolean {
    return false;
  }
}
