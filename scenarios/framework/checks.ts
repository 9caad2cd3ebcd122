// Verdicts: a measured value against what the guarantee promises, with the
// error and limit recorded so a failure reports actual, expected and limit.
import type { CheckResult } from './types.js';

function relativeError(actual: number, expected: number): number {
  if (expected === 0) return actual === 0 ? 0 : Infinity;
  return Math.abs(actual - expected) / Math.abs(expected);
}

/** Passes when actual <= limit. */
export function atMost(name: string, actual: number, limit: number, unit = ''): CheckResult {
  return { name, actual, expected: limit, limit, kind: 'at-most', error: relativeError(actual, limit), unit, pass: actual <= limit };
}

/** Passes when actual >= limit. */
export function atLeast(name: string, actual: number, limit: number, unit = ''): CheckResult {
  return { name, actual, expected: limit, limit, kind: 'at-least', error: relativeError(actual, limit), unit, pass: actual >= limit };
}

/** Passes when |actual - expected| / expected <= tolerance (a relative error). */
export function within(name: string, actual: number, expected: number, tolerance: number, unit = ''): CheckResult {
  const error = relativeError(actual, expected);
  return { name, actual, expected, limit: tolerance, kind: 'within', error, unit, pass: error <= tolerance };
}

/** Formats a check for a failure message: name, actual, expected, limit and error. */
export function describeCheck(check: CheckResult): string {
  const bound = check.kind === 'within'
    ? `expected ${check.expected}${check.unit} within ${(check.limit * 100).toFixed(0)}%`
    : `${check.kind === 'at-most' ? 'limit <=' : 'limit >='} ${check.limit}${check.unit}`;
  const error = Number.isFinite(check.error) ? `${(check.error * 100).toFixed(1)}%` : 'inf';
  return `${check.pass ? 'pass' : 'FAIL'} ${check.name}: actual ${check.actual}${check.unit}, ${bound}, error ${error}`;
}
