// Reading and writing cgroupfs files. The kernel acts on each write() as one
// command, so a value is written in one call and never appended.

import { constants as fsConstants, promises as fs } from 'node:fs';
import { join } from 'node:path';

import { IsolabError, fromSystemError } from '../errors.js';

/** Returns the trimmed text of a file, or undefined when it does not exist. */
export async function readOptional(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fromSystemError('read cgroup file', file, err);
  }
}

/** Returns the trimmed text of a file that must exist. */
export async function readRequired(file: string): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch (err) {
    throw fromSystemError('read cgroup file', file, err);
  }
}

/** Returns whether a file or directory exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await fs.access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a value to an existing cgroup file in one write() call. The file is
 * opened without O_CREAT, so a missing file fails with ENOENT here as it does
 * on cgroupfs, even in a temporary directory standing in for it.
 */
export async function writeValue(file: string, value: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, fsConstants.O_WRONLY | fsConstants.O_TRUNC);
    await handle.write(value);
  } catch (err) {
    throw fromSystemError(`write "${value}" to`, file, err);
  } finally {
    await handle?.close();
  }
}

/** Writes a value into `dir/name`. */
export function writeIn(dir: string, name: string, value: string): Promise<void> {
  return writeValue(join(dir, name), value);
}

/** Parses a decimal integer written by the kernel, and throws on anything else. */
export function parseInteger(text: string, file: string): number {
  if (!/^-?\d+$/.test(text)) {
    throw new IsolabError({
      kind: 'system',
      op: 'parse cgroup file',
      value: file,
      reason: `expected an integer, found "${text}"`,
    });
  }
  return Number(text);
}

/** Reads an integer file, or returns undefined when the file does not exist. */
export async function readIntegerOptional(file: string): Promise<number | undefined> {
  const text = await readOptional(file);
  return text === undefined ? undefined : parseInteger(text, file);
}

/** Reads an integer file that must exist. */
export async function readInteger(file: string): Promise<number> {
  return parseInteger(await readRequired(file), file);
}

/**
 * Parses "key value" lines (memory.stat, cpu.stat, memory.events,
 * memory.oom_control) into numbers. Lines whose value is not an integer are
 * skipped, because newer kernels add such keys.
 */
export function parseFlatKeyed(text: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [key, value, extra] = line.trim().split(/\s+/);
    if (!key || value === undefined || extra !== undefined) continue;
    if (!/^-?\d+$/.test(value)) continue;
    result[key] = Number(value);
  }
  return result;
}

/** Reads a flat keyed file, or returns undefined when it does not exist. */
export async function readFlatKeyed(file: string): Promise<Record<string, number> | undefined> {
  const text = await readOptional(file);
  return text === undefined ? undefined : parseFlatKeyed(text);
}

/** Returns the pids listed in a cgroup.procs file, or none when the file is missing. */
export async function readProcs(file: string): Promise<number[]> {
  const text = await readOptional(file);
  if (!text) return [];
  return text.split('\n').map((line) => parseInteger(line.trim(), file));
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Calls `check` every `intervalMs` until it returns true. Returns false if
 * `timeoutMs` passes first. `check` runs at least once.
 */
export async function pollUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 10,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}
