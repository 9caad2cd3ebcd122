// The operations table each controller module fills in, one table per cgroup
// version, and the write helper that puts the config field into errors.

import { join } from 'node:path';

import { IsolabError } from '../errors.js';
import type { LinuxResources } from '../spec/oci.js';
import { writeValue } from './files.js';
import type { CgroupStats, CgroupVersion, ControllerName } from './types.js';

/** The directories one controller's operations act on. */
export interface ControllerDirs {
  /** The cgroup's directory in the hierarchy that serves the controller. */
  dir: string;
  /** v1 only: the cgroup's directory in the cpuacct hierarchy, for CPU usage. */
  cpuacctDir?: string;
}

/** One controller on one cgroup version, after crun's table of cgroup operations. */
export interface ControllerOps {
  readonly name: ControllerName;
  readonly version: CgroupVersion;
  /** Returns whether `resources` sets anything this controller serves. */
  requested(resources: LinuxResources): boolean;
  /** Throws an invalid-input or unsupported IsolabError for a bad value, without writing. */
  validate(resources: LinuxResources): void;
  /** Writes the controller's part of `resources`. Fields left out are not touched. */
  apply(dirs: ControllerDirs, resources: LinuxResources): Promise<void>;
  /** Adds the controller's usage to `stats`, skipping missing files of optional features. */
  stats(dirs: ControllerDirs, stats: CgroupStats): Promise<void>;
}

/**
 * Writes `value` to `dir/file` for the config field `field`. A failure names
 * the field, the value and the file.
 */
export async function setField(
  dir: string,
  file: string,
  value: string,
  field: string,
  fieldValue: unknown = value,
): Promise<void> {
  const path = join(dir, file);
  try {
    await writeValue(path, value);
  } catch (err) {
    const cause = err as IsolabError;
    const missing = cause.kind === 'not-found';
    throw new IsolabError({
      kind: missing ? 'unsupported' : cause.kind,
      op: `set ${field}`,
      value: typeof fieldValue === 'string' ? fieldValue : JSON.stringify(fieldValue),
      reason: missing
        ? `${path} does not exist (controller not enabled, or the kernel lacks it)`
        : `writing "${value}" to ${path} failed`,
      errno: cause.errno,
      cause: err,
    });
  }
}

/** Parses a v2 limit file value: "max" is null. */
export function parseMax(text: string, file: string): number | null {
  if (text === 'max') return null;
  if (!/^\d+$/.test(text)) {
    throw new IsolabError({
      kind: 'system',
      op: 'parse cgroup file',
      value: file,
      reason: `expected an integer or "max", found "${text}"`,
    });
  }
  return Number(text);
}

/** Returns whether an optional config section sets any field. */
export function setsAnything(section: object | undefined): boolean {
  if (!section) return false;
  return Object.values(section).some((value) => value !== undefined);
}
