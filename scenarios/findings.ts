// Findings: guarantees that a real kernel breaks. A baseline or attack phase
// with a matching finding is kept as an expected failure, but only when the
// checks it breaks are the finding's own, and the run's numbers become its
// evidence. Any other failing check still fails the test.
import { describeCheck } from './framework/checks.js';
import type { CheckResult, Phase } from './framework/types.js';
import type { TargetInfo } from '../reports/model.js';

/** A guarantee that a kernel is known to break, with where that is described. */
export interface Finding {
  scenario: string;
  phase: Exclude<Phase, 'control'>;
  /** The kernel releases that break it, such as /^5\.10\./. */
  kernelRelease: RegExp;
  /** The cgroup version it is seen on; both when missing. */
  cgroupVersion?: 1 | 2;
  /** The start of each check name that the kernel breaks. */
  checks: string[];
  /** The kernel's behaviour, and the commit or report that describes it. */
  summary: string;
}

/**
 * The findings on the kernels isolab runs. None so far: every scenario
 * held on debian-5.10, 6.1 and 6.12 with cgroup v1 and v2.
 */
export const FINDINGS: readonly Finding[] = [];

/** Returns the finding for a scenario phase on a target, if there is one. */
export function findingFor(
  findings: readonly Finding[],
  scenario: string,
  phase: Phase,
  target: Pick<TargetInfo, 'kernelRelease' | 'cgroupVersion'>,
): Finding | undefined {
  return findings.find((finding) => finding.scenario === scenario
    && finding.phase === phase
    // search() ignores lastIndex, so a pattern with the g or y flag matches on every call.
    && target.kernelRelease.search(finding.kernelRelease) !== -1
    && (finding.cgroupVersion === undefined || finding.cgroupVersion === target.cgroupVersion));
}

/** Returns true when every failed check is one that the finding names, and at least one failed. */
export function explainsFailures(finding: Finding, checks: CheckResult[]): boolean {
  const failed = checks.filter((check) => !check.pass);
  return failed.length > 0
    && failed.every((check) => finding.checks.some((name) => check.name.startsWith(name)));
}

/** Formats a finding's evidence: the summary, the target and every failed check's numbers. */
export function findingEvidence(finding: Finding, target: TargetInfo, checks: CheckResult[]): string {
  const kernel = target.kernelPackageVersion
    ? `${target.kernelRelease} (package ${target.kernelPackageVersion})`
    : target.kernelRelease;
  const failed = checks.filter((check) => !check.pass).map(describeCheck);
  return [
    finding.summary,
    `target ${target.target}: kernel ${kernel}, cgroup v${target.cgroupVersion}, ${target.vcpus} vCPUs`,
    ...failed,
  ].join('\n');
}
