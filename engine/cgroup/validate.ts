// Checks on values from config.json before anything is written, so a bad
// value never leaves a cgroup half updated.

import { IsolabError, invalidField } from '../errors.js';

export interface IntegerRule {
  min: number;
  max?: number;
  /** Whether -1 is accepted as "unlimited". */
  unlimited?: boolean;
  /** The valid values in words, for the error message: "a byte count of 0 or more". */
  expected: string;
}

/** Returns the value if it is a safe integer within the rule, else throws naming the field. */
export function checkInteger(field: string, value: unknown, rule: IntegerRule): number {
  const unlimited = rule.unlimited ? ', or -1 for unlimited' : '';
  const reason = `must be ${rule.expected}${unlimited}`;
  // Numbers are shown with String(), because JSON.stringify(NaN) prints null.
  const valueText = typeof value === 'number' ? String(value) : value;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw invalidField(field, valueText, `${reason}, not ${describe(value)}`);
  }
  if (rule.unlimited && value === -1) return value;
  if (value < rule.min || (rule.max !== undefined && value > rule.max)) {
    throw invalidField(field, valueText, reason);
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return String(value);
    return Number.isInteger(value) ? 'an integer beyond 2^53' : 'a fraction';
  }
  if (typeof value === 'string') return 'a string';
  return value === null ? 'null' : `a ${typeof value}`;
}

const cpuList = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** Returns a CPU or memory-node list such as "0-3,6", else throws naming the field. */
export function checkCpuList(field: string, value: unknown): string {
  if (typeof value !== 'string' || !cpuList.test(value.trim())) {
    throw invalidField(field, value, 'must be a list such as "0-3,6"');
  }
  for (const range of value.trim().split(',')) {
    const [low, high] = range.split('-').map(Number);
    if (high !== undefined && high < (low ?? 0)) {
      throw invalidField(field, value, `range "${range}" is reversed`);
    }
  }
  return value.trim();
}

/**
 * Returns a cgroup path relative to the hierarchy root, such as
 * `isolab/web1`. Absolute paths, empty components, `.` and `..` are rejected,
 * so the path cannot name the root or leave the hierarchy.
 */
export function checkCgroupPath(path: unknown): string {
  const reject = (reason: string): never => {
    throw new IsolabError({
      kind: 'invalid-input',
      op: 'open cgroup',
      value: String(path),
      reason,
    });
  };
  if (typeof path !== 'string' || path.length === 0) return reject('the path is empty');
  if (path.startsWith('/')) {
    return reject('the path must be relative to the hierarchy root, such as isolab/web1');
  }
  if (path.includes('\0') || path.includes('\n')) {
    return reject('the path contains a NUL or newline');
  }
  const parts = path.replace(/\/+$/, '').split('/');
  for (const part of parts) {
    if (part === '' || part === '.' || part === '..') {
      return reject(`the component "${part}" is not allowed`);
    }
  }
  return parts.join('/');
}

/** Builds the error for a resource the kernel or this cgroup version lacks. */
export function unsupported(field: string, value: unknown, reason: string): IsolabError {
  return new IsolabError({
    kind: 'unsupported',
    op: `apply ${field}`,
    value: typeof value === 'string' ? value : JSON.stringify(value),
    reason,
  });
}
