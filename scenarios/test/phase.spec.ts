import { expect, test } from '@playwright/test';

import { phaseResult, ratio } from '../framework/phase.js';
import { capLimits } from '../framework/runner.js';
import type { ScenarioContext, TargetFacts } from '../framework/types.js';

const facts: TargetFacts = {
  kernelRelease: '6.1.0-25-amd64',
  cgroupVersion: 2,
  controllers: { memory: 2, pids: 2 },
  cpus: 2,
  memoryMiB: 1024,
  swapMiB: 0,
};

// Cases as [value, base, ratio]. A base that is not finite or not positive gives
// Infinity, and so does a value that is not finite.
const ratioCases: Array<[number, number, number]> = [
  [3, 2, 1.5],
  [1, 3, 0.333],
  [2, 3, 0.667],
  [0, 5, 0],
  [5, 0, Infinity],
  [5, -1, Infinity],
  [NaN, 1, Infinity],
  [Infinity, 1, Infinity],
  [1, Infinity, Infinity],
];

for (const [value, base, expected] of ratioCases) {
  test(`ratio ${value} over ${base} is ${expected}`, () => {
    expect(ratio(value, base)).toBe(expected);
  });
}

test('phaseResult records target facts', () => {
  const ctx = { facts } as ScenarioContext;
  const result = phaseResult(ctx, 'forkbomb', 'attack', { children: 64, kernel: 'stale' });

  expect(result.scenario).toBe('forkbomb');
  expect(result.phase).toBe('attack');
  expect(result.metrics).toEqual({
    children: 64, kernel: '6.1.0-25-amd64', cgroupVersion: 2, cpus: 2,
  });
  expect(result.checks).toEqual([]);
  expect(result.offenderChecks).toEqual([]);
  expect(result.samples).toEqual({});
});

// Cases as [target memory in MiB, cap in MiB]. The cap is half the memory, at most 512 MiB.
const capCases: Array<[number, number]> = [[2048, 512], [1025, 512], [1024, 512], [600, 300],
  [601, 300]];

for (const [memoryMiB, capMiB] of capCases) {
  test(`capLimits of ${memoryMiB} MiB`, () => {
    const limits = capLimits({ ...facts, memoryMiB });

    expect(limits.memoryBytes).toBe(capMiB * 1024 * 1024);
    expect(limits.pids).toBe(1024);
  });
}
