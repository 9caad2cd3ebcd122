// Type checks for config.json values. Each check names the field by its dotted
// path (`linux.uidMappings[1].size`) so the error points at the offending value.

import { IsolabError, invalidField } from '../errors.js';

export type JsonObject = Record<string, unknown>;

/** Largest value of a uint32 field such as a uid. */
export const UINT32_MAX = 0xffffffff;

const VALUE_PREVIEW_MAX = 80;

/** Returns a short text form of a value for an error message. */
export function previewValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  if (text.length <= VALUE_PREVIEW_MAX) return text;
  return `${text.slice(0, VALUE_PREVIEW_MAX - 3)}...`;
}

/** Builds an invalid-input error for a field, with a shortened value if there is one. */
export function fieldError(field: string, value: unknown, reason: string): IsolabError {
  return invalidField(field, value === undefined ? undefined : previewValue(value), reason);
}

/** Builds the error for a field that the OCI spec defines but isolab does not implement. */
export function unsupportedField(field: string, value: unknown): IsolabError {
  return new IsolabError({
    kind: 'unsupported',
    op: `accept ${field}`,
    value: previewValue(value),
    reason: 'not supported by isolab',
  });
}

/** Joins a parent path and a key into a dotted field path. */
export function joinPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent === '' ? key : `${parent}.${key}`;
}

/**
 * Returns true for a value that requests nothing: false, '', [] or {}.
 * An unsupported field with such a value is accepted, because ignoring it
 * changes nothing.
 */
export function isEmptyValue(value: unknown): boolean {
  if (value === false || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (isPlainObject(value)) return Object.keys(value).length === 0;
  return false;
}

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface ObjectShape {
  /** Keys that isolab reads. */
  known: readonly string[];
  /** Keys from the OCI spec that isolab rejects unless their value is empty. */
  unsupported?: readonly string[];
  /** Keys that must be present. */
  required?: readonly string[];
}

/**
 * Checks that a value is a JSON object whose keys are all known, and returns it.
 * An unsupported key with a non-empty value and any unknown key raise an error.
 */
export function expectObject(value: unknown, path: string, shape: ObjectShape): JsonObject {
  if (!isPlainObject(value)) throw fieldError(path || 'config', value, 'must be a JSON object');

  for (const [key, child] of Object.entries(value)) {
    const childPath = joinPath(path, key);
    if (shape.known.includes(key)) continue;
    if (shape.unsupported?.includes(key)) {
      if (isEmptyValue(child)) continue;
      throw unsupportedField(childPath, child);
    }
    throw fieldError(childPath, child, 'unknown field');
  }

  for (const key of shape.required ?? []) {
    if (value[key] === undefined) {
      throw fieldError(joinPath(path, key), undefined, 'required field is missing');
    }
  }
  return value;
}

/** Checks that a value is an object of string values, as annotations and sysctl are. */
export function expectStringMap(value: unknown, path: string): Record<string, string> {
  if (!isPlainObject(value)) throw fieldError(path, value, 'must be a JSON object');
  for (const [key, child] of Object.entries(value)) {
    expectString(child, joinPath(path, key));
  }
  return value as Record<string, string>;
}

/** Checks that a value is a string without NUL bytes, which no system call accepts. */
export function expectString(value: unknown, path: string): string {
  if (typeof value !== 'string') throw fieldError(path, value, 'must be a string');
  if (value.includes('\0')) throw fieldError(path, value, 'must not contain a NUL byte');
  return value;
}

/** Checks that a value is a non-empty string. */
export function expectNonEmptyString(value: unknown, path: string): string {
  const text = expectString(value, path);
  if (text === '') throw fieldError(path, value, 'must not be empty');
  return text;
}

/** Checks that a value is an absolute path. */
export function expectAbsolutePath(value: unknown, path: string): string {
  const text = expectString(value, path);
  if (!text.startsWith('/')) throw fieldError(path, value, 'must be an absolute path');
  return text;
}

/** Checks that a value is a boolean. */
export function expectBoolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw fieldError(path, value, 'must be true or false');
  return value;
}

/** Checks that a value is an array and returns it. */
export function expectArray(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw fieldError(path, value, 'must be a JSON array');
  return value;
}

/** Checks that a value is an array of strings. */
export function expectStringArray(value: unknown, path: string): string[] {
  const items = expectArray(value, path);
  items.forEach((item, i) => expectString(item, joinPath(path, i)));
  return items as string[];
}

export interface IntegerRange {
  min: number;
  max: number;
  /** A value outside [min, max] that is still accepted, such as -1 for unlimited. */
  unlimited?: number;
}

/** Checks that a value is an integer in a range; values past 2^53 are rejected as inexact. */
export function expectInteger(value: unknown, path: string, range: IntegerRange): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw fieldError(path, value, 'must be an integer');
  }
  if (value === range.unlimited) return value;
  if (!Number.isSafeInteger(value)) {
    throw fieldError(path, value, 'is too large to be represented exactly (over 2^53)');
  }
  if (value < range.min || value > range.max) {
    const extra = range.unlimited === undefined ? '' : `, or ${range.unlimited} for unlimited`;
    throw fieldError(path, value, `must be from ${range.min} to ${range.max}${extra}`);
  }
  return value;
}

/** Checks an optional field with the given check when it is present. */
export function optional<T>(
  object: JsonObject,
  key: string,
  path: string,
  check: (value: unknown, path: string) => T,
): T | undefined {
  const value = object[key];
  if (value === undefined) return undefined;
  return check(value, joinPath(path, key));
}
