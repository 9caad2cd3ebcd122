// A Playwright reporter that writes results/results.json from the
// `isolab-result` attachments of scenario tests.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FullResult, Reporter, TestCase, TestResult } from '@playwright/test/reporter';
import { renderReport } from './html.js';
import { ATTACHMENT_NAME, RESULTS_SCHEMA_VERSION, type PhaseAttachment, type ResultEntry, type ResultsFile, type Verdict } from './model.js';

export default class ResultsReporter implements Reporter {
  private readonly entries = new Map<string, ResultEntry>();
  private readonly startedAt = new Date();

  constructor(private readonly options: { outputFile?: string } = {}) {}

  onTestEnd(test: TestCase, result: TestResult): void {
    const attachment = result.attachments.find((a) => a.name === ATTACHMENT_NAME && a.body);
    if (!attachment?.body) {
      // A retry that ended before it measured keeps the earlier attempt's numbers, with its own verdict.
      const earlier = this.entries.get(test.id);
      if (earlier) earlier.verdict = verdictOf(test, result);
      return;
    }
    const data = JSON.parse(attachment.body.toString('utf8')) as PhaseAttachment;
    // This attempt's annotations, which include those the test added while it ran.
    const finding = result.annotations.find((a) => a.type === 'finding')?.description;
    // A retried test replaces its earlier attempt, so each test counts once.
    this.entries.set(test.id, {
      ...data,
      test: test.titlePath().filter(Boolean).join(' > '),
      verdict: verdictOf(test, result),
      ...(finding ? { finding } : {}),
      durationMs: result.duration,
    });
  }

  onEnd(result: FullResult): void {
    const entries = [...this.entries.values()];
    const totals: Record<Verdict, number> = { passed: 0, failed: 0, skipped: 0, 'expected-failure': 0 };
    for (const entry of entries) totals[entry.verdict]++;
    const file: ResultsFile = {
      schemaVersion: RESULTS_SCHEMA_VERSION,
      startedAt: this.startedAt.toISOString(),
      wallMs: result.duration,
      totals,
      entries,
    };
    const out = this.options.outputFile ?? 'results/results.json';
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(file, null, 2)}\n`);
    if (entries.length > 0) {
      const html = path.join(path.dirname(out), 'isolation-report.html');
      writeFileSync(html, renderReport(file));
      process.stdout.write(`isolation report: ${html}\n`);
    }
  }

  printsToStdio(): boolean {
    return false;
  }
}

function verdictOf(test: TestCase, result: TestResult): Verdict {
  if (result.status === 'skipped') return 'skipped';
  if (test.expectedStatus === 'failed' && result.status === 'failed') return 'expected-failure';
  // Playwright counts a test marked as failing that passes as a failure, and so does the report.
  return result.status === 'passed' && test.expectedStatus === 'passed' ? 'passed' : 'failed';
}
