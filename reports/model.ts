// The results model: one entry per scenario phase, written to
// results/results.json. docs/results-schema.md describes every field.
import type { CheckResult, Phase, Series } from '../scenarios/framework/types.js';

export const RESULTS_SCHEMA_VERSION = 1;

/** The target a phase ran on. */
export interface TargetInfo {
  /** The Playwright project, such as qemu-debian-6.1-v2, or `local`. */
  target: string;
  kernelRelease: string;
  /** The Debian package version of the kernel, when the target booted a packaged kernel. */
  kernelPackageVersion?: string;
  cgroupVersion: 1 | 2;
  vcpus: number;
  memoryMiB: number;
  swapMiB: number;
}

/** The attachment a scenario spec adds to its test, named `isolab-result`. */
export interface PhaseAttachment extends TargetInfo {
  scenario: string;
  phase: Phase;
  checks: CheckResult[];
  offenderChecks: CheckResult[];
  metrics: Record<string, number | string | boolean | null>;
  samples: Record<string, Series>;
  wallMs: number;
  skipped?: string;
}

export type Verdict = 'passed' | 'failed' | 'skipped' | 'expected-failure';

/** One entry of results.json. */
export interface ResultEntry extends PhaseAttachment {
  /** The test's title path, for finding it in the Playwright and Allure reports. */
  test: string;
  verdict: Verdict;
  /** Why a test is an expected failure: a guarantee this kernel breaks, with its evidence. */
  finding?: string;
  durationMs: number;
}

/** The whole results.json file. */
export interface ResultsFile {
  schemaVersion: number;
  startedAt: string;
  wallMs: number;
  totals: Record<Verdict, number>;
  entries: ResultEntry[];
}

export const ATTACHMENT_NAME = 'isolab-result';
