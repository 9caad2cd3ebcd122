import { expect, test } from '@playwright/test';

import { atLeast, atMost, describeCheck, within } from '../framework/checks.js';
import type { CheckResult } from '../framework/types.js';

// Cases of atMost as [actual, limit, pass]. The bound itself passes.
const atMostCases: Array<[number, number, boolean]> = [
  [9, 10, true], [10, 10, true], [10.001, 10, false], [11, 10, false], [0, 0, true], [1, 0, false],
];

for (const [actual, limit, pass] of atMostCases) {
  test(`atMost ${actual} against ${limit} ${pass ? 'passes' : 'fails'}`, () => {
    expect(atMost('value', actual, limit).pass).toBe(pass);
  });
}

// Cases of atLeast as [actual, limit, pass]. The bound itself passes.
const atLeastCases: Array<[number, number, boolean]> = [
  [11, 10, true], [10, 10, true], [9.999, 10, false], [9, 10, false], [0, 0, true], [-1, 0, false],
];

for (const [actual, limit, pass] of atLeastCases) {
  test(`atLeast ${actual} against ${limit} ${pass ? 'passes' : 'fails'}`, () => {
    expect(atLeast('value', actual, limit).pass).toBe(pass);
  });
}

// Cases of within as [actual, expected, tolerance, pass], with a relative tolerance.
const withinCases: Array<[number, number, number, boolean]> = [
  [100, 100, 0, true],
  [110, 100, 0.1, true],
  [90, 100, 0.1, true],
  [111, 100, 0.1, false],
  [89, 100, 0.1, false],
  [-110, -100, 0.1, true],
  [-120, -100, 0.1, false],
  [0, 0, 0, true],
  [0.001, 0, 0.5, false],
];

for (const [actual, expected, tolerance, pass] of withinCases) {
  test(`within ${actual} of ${expected} by ${tolerance} ${pass ? 'passes' : 'fails'}`, () => {
    expect(within('value', actual, expected, tolerance).pass).toBe(pass);
  });
}

test('atMost records error and bound', () => {
  const check = atMost('latency', 12, 10, ' ms');

  expect(check.error).toBeCloseTo(0.2, 12);
  expect(check.expected).toBe(10);
  expect(check.limit).toBe(10);
  expect(check.kind).toBe('at-most');
  expect(check.unit).toBe(' ms');
});

test('atLeast records error and bound', () => {
  const check = atLeast('forks', 30, 40);

  expect(check.error).toBeCloseTo(0.25, 12);
  expect(check.expected).toBe(40);
  expect(check.limit).toBe(40);
  expect(check.kind).toBe('at-least');
});

test('within records tolerance as limit', () => {
  const check = within('share', 0.6, 0.5, 0.25);

  expect(check.error).toBeCloseTo(0.2, 12);
  expect(check.expected).toBe(0.5);
  expect(check.limit).toBe(0.25);
  expect(check.kind).toBe('within');
});

test('error is infinite against expected 0', () => {
  expect(atMost('value', 3, 0).error).toBe(Infinity);
  expect(atLeast('value', 3, 0).error).toBe(Infinity);
  expect(within('value', 3, 0, 0.1).error).toBe(Infinity);
});

test('error is 0 when both are 0', () => {
  expect(within('value', 0, 0, 0).error).toBe(0);
});

test('relative error uses expected magnitude', () => {
  expect(within('value', -90, -100, 0).error).toBeCloseTo(0.1, 12);
});

const describeCases: Array<[string, () => CheckResult, string]> = [
  [
    'failed atMost',
    () => atMost('victim latency', 12, 10, ' ms'),
    'FAIL victim latency: actual 12 ms, limit <= 10 ms, error 20.0%',
  ],
  [
    'passed atLeast',
    () => atLeast('victim forks', 50, 40),
    'pass victim forks: actual 50, limit >= 40, error 25.0%',
  ],
  [
    'passed within',
    () => within('cpu share', 0.45, 0.5, 0.2),
    'pass cpu share: actual 0.45, expected 0.5 within 20%, error 10.0%',
  ],
  [
    'infinite error',
    () => within('offender pages', 3, 0, 0.1, ' pages'),
    'FAIL offender pages: actual 3 pages, expected 0 pages within 10%, error inf',
  ],
];

for (const [name, makeCheck, text] of describeCases) {
  test(`describeCheck of ${name}`, () => {
    expect(describeCheck(makeCheck())).toBe(text);
  });
}
