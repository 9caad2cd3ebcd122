// OCI `linux.resources.unified`: raw cgroup v2 files and their values.

import { join } from 'node:path';

import { invalidField } from '../errors.js';
import type { LinuxResources } from '../spec/oci.js';
import { exists } from './files.js';
import { setField } from './ops.js';
import { unsupported } from './validate.js';

const field = 'linux.resources.unified';

/** v2 files with a v1 counterpart under another name, for a helpful v1 error. */
const v1Hints: Record<string, string> = {
  'memory.high': 'cgroup v1 has no memory.high throttling limit',
  'memory.min': 'cgroup v1 has no memory.min protection',
  'memory.low': 'cgroup v1 has no memory.low protection, so use ' +
    'linux.resources.memory.reservation',
};

/**
 * Throws unless `key` names a plain file of the cgroup directory: a
 * "<controller>.<name>" without `/`, and not a cgroup.* core file other than
 * cgroup.max.depth and cgroup.max.descendants, since writing cgroup.procs,
 * cgroup.subtree_control or cgroup.kill would bypass the engine.
 */
export function checkUnifiedKey(key: string): void {
  if (!/^[A-Za-z0-9_]+\.[A-Za-z0-9_.]+$/.test(key)) {
    throw invalidField(field, key, 'a key must be a cgroup file name such as memory.high');
  }
  if (key.startsWith('cgroup.') && !key.startsWith('cgroup.max.')) {
    throw invalidField(field, key, 'cgroup.* core files other than cgroup.max.* are not allowed');
  }
}

/** Throws for a bad key or value. Without cgroup v2 every key is unsupported. */
export function validateUnified(resources: LinuxResources, v2Available: boolean): void {
  const unified = resources.unified;
  if (unified === undefined) return;
  if (typeof unified !== 'object' || unified === null) {
    throw invalidField(field, unified, 'must be an object of file names to values');
  }
  for (const [key, value] of Object.entries(unified)) {
    if (!v2Available) {
      throw unsupported(field, key, v1Hints[key] ?? 'unified keys need cgroup v2');
    }
    checkUnifiedKey(key);
    if (typeof value !== 'string') {
      throw invalidField(`${field}.${key}`, value, 'must be a string');
    }
  }
}

/** Returns the value to write: "-1" means unlimited, which v2 files spell "max". */
export function unifiedValue(value: string): string {
  return value.trim() === '-1' ? 'max' : value;
}

/** Writes each unified key into `dir`. A file the kernel lacks is an unsupported error. */
export async function applyUnified(dir: string, resources: LinuxResources): Promise<void> {
  for (const [key, value] of Object.entries(resources.unified ?? {})) {
    if (!(await exists(join(dir, key)))) {
      throw unsupported(field, key,
        `${join(dir, key)} does not exist (controller not enabled, or the kernel lacks it)`);
    }
    await setField(dir, key, unifiedValue(value), `${field}.${key}`, value);
  }
}
