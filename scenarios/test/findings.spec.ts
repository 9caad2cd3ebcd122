import { expect, test } from '@playwright/test';

import { explainsFailures, findingEvidence, findingFor, type Finding } from '../findings.js';
import { atLeast, atMost, describeCheck } from '../framework/checks.js';
import type { Phase } from '../framework/types.js';
import type { TargetInfo } from '../../reports/model.js';

const forkbombOnV1: Finding = {
  scenario: 'forkbomb',
  phase: 'attack',
  kernelRelease: /^5\.10\./,
  cgroupVersion: 1,
  checks: ['victim forks'],
  summary: 'pids.max is not charged for threads on this kernel',
};

const pagingAnyCgroup: Finding = {
  scenario: 'paging',
  phase: 'baseline',
  kernelRelease: /^6\.1\./,
  checks: ['victim p99 latency', 'victim major faults'],
  summary: 'reclaim stalls the victim',
};

const findings = [forkbombOnV1, pagingAnyCgroup];

// Cases as [scenario, phase, kernel release, cgroup version, expected finding].
const lookupCases: Array<[string, Phase, string, 1 | 2, Finding | undefined]> = [
  ['forkbomb', 'attack', '5.10.0-30-amd64', 1, forkbombOnV1],
  ['forkbomb', 'attack', '5.10.0-30-amd64', 2, undefined],
  ['forkbomb', 'attack', '6.1.0-25-amd64', 1, undefined],
  ['forkbomb', 'baseline', '5.10.0-30-amd64', 1, undefined],
  ['forkbomb', 'control', '5.10.0-30-amd64', 1, undefined],
  ['paging', 'baseline', '6.1.0-25-amd64', 1, pagingAnyCgroup],
  ['paging', 'baseline', '6.1.0-25-amd64', 2, pagingAnyCgroup],
  ['paging', 'baseline', '6.12.12-amd64', 2, undefined],
  ['paging', 'attack', '6.1.0-25-amd64', 2, undefined],
  ['dentry', 'baseline', '6.1.0-25-amd64', 2, undefined],
];

for (const [scenario, phase, kernelRelease, cgroupVersion, expected] of lookupCases) {
  const outcome = expected ? 'matches' : 'finds none';

  test(`findingFor ${scenario} ${phase} ${kernelRelease} v${cgroupVersion} ${outcome}`, () => {
    const found = findingFor(findings, scenario, phase, { kernelRelease, cgroupVersion });

    expect(found).toBe(expected);
  });
}

test('findingFor finds none in empty list', () => {
  const facts = { kernelRelease: '5.10.0-30-amd64', cgroupVersion: 1 as const };

  expect(findingFor([], 'forkbomb', 'attack', facts)).toBeUndefined();
});

const forksHeld = atLeast('victim forks 64 children', 64, 64);
const forksBroken = atLeast('victim forks 64 children', 12, 64);
const latencyHeld = atMost('victim fork latency', 3, 10, ' ms');
const latencyBroken = atMost('victim fork latency', 40, 10, ' ms');

test('explainsFailures accepts own failed check', () => {
  expect(explainsFailures(forkbombOnV1, [forksBroken, latencyHeld])).toBe(true);
});

test('explainsFailures rejects all passing checks', () => {
  expect(explainsFailures(forkbombOnV1, [forksHeld, latencyHeld])).toBe(false);
});

test('explainsFailures rejects empty check list', () => {
  expect(explainsFailures(forkbombOnV1, [])).toBe(false);
});

test('explainsFailures rejects extra failed check', () => {
  expect(explainsFailures(forkbombOnV1, [forksBroken, latencyBroken])).toBe(false);
});

test('explainsFailures rejects only unnamed failure', () => {
  expect(explainsFailures(forkbombOnV1, [forksHeld, latencyBroken])).toBe(false);
});

test('explainsFailures matches name prefix only', () => {
  const inside = atLeast('the victim forks 64 children', 12, 64);

  expect(explainsFailures(forkbombOnV1, [inside])).toBe(false);
});

test('explainsFailures accepts several named checks', () => {
  const p99 = atMost('victim p99 latency under reclaim', 90, 20, ' ms');
  const faults = atMost('victim major faults', 500, 10);

  expect(explainsFailures(pagingAnyCgroup, [p99, faults])).toBe(true);
});

const target: TargetInfo = {
  target: 'qemu-debian-5.10-v1',
  kernelRelease: '5.10.0-30-amd64',
  kernelPackageVersion: '5.10.218-1',
  cgroupVersion: 1,
  vcpus: 2,
  memoryMiB: 1024,
  swapMiB: 512,
};

test('findingEvidence lists summary and target', () => {
  const evidence = findingEvidence(forkbombOnV1, target, [forksBroken]);

  expect(evidence).toContain(forkbombOnV1.summary);
  expect(evidence).toContain('target qemu-debian-5.10-v1');
  expect(evidence).toContain('kernel 5.10.0-30-amd64 (package 5.10.218-1)');
  expect(evidence).toContain('cgroup v1');
  expect(evidence).toContain('2 vCPUs');
});

test('findingEvidence lists every failed check', () => {
  const evidence = findingEvidence(forkbombOnV1, target, [forksBroken, latencyHeld, latencyBroken]);
  const lines = evidence.split('\n');

  expect(lines).toContain(describeCheck(forksBroken));
  expect(lines).toContain(describeCheck(latencyBroken));
  expect(lines).not.toContain(describeCheck(latencyHeld));
});

test('findingEvidence without package version', () => {
  const unpackaged = { ...target, kernelPackageVersion: undefined };
  const evidence = findingEvidence(forkbombOnV1, unpackaged, [forksBroken]);

  expect(evidence).toContain('kernel 5.10.0-30-amd64,');
  expect(evidence).not.toContain('package');
});

test('global pattern matches every call', () => {
  const finding = { ...forkbombOnV1, kernelRelease: /^5\.10\./g };
  const target = { kernelRelease: '5.10.0-35-amd64', cgroupVersion: 1 as const };

  expect(findingFor([finding], finding.scenario, finding.phase, target)).toBe(finding);
  expect(findingFor([finding], finding.scenario, finding.phase, target)).toBe(finding);
});
