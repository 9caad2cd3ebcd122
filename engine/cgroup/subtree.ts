// v2 hierarchy rules that span ancestors: enabling controllers in
// cgroup.subtree_control, and memory protection passed down the tree.

import { join } from 'node:path';

import { IsolabError } from '../errors.js';
import type { LinuxResources } from '../spec/oci.js';
import { readOptional, readRequired, writeValue } from './files.js';
import { pathPrefixes } from './manager.js';

export type ProtectionFile = 'memory.low' | 'memory.min';

const subtreeErrors: Record<string, string> = {
  ENOENT: 'a controller is missing from this cgroup\'s cgroup.controllers',
  EBUSY: 'the cgroup has processes of its own, and cgroup v2 enables controllers for ' +
    'children only in cgroups without them (no internal processes rule)',
  EOPNOTSUPP: 'the cgroup is threaded, and these controllers are not threaded',
};

/**
 * Enables `names` in `dir/cgroup.subtree_control` so child cgroups get their
 * files. Only missing controllers are written, in one write, so a cgroup
 * that has them all is left untouched.
 */
export async function enableControllers(dir: string, names: string[]): Promise<void> {
  if (names.length === 0) return;
  const file = join(dir, 'cgroup.subtree_control');
  const enabled = (await readRequired(file)).split(/\s+/).filter(Boolean);
  const missing = names.filter((name) => !enabled.includes(name));
  if (missing.length === 0) return;

  const value = missing.map((name) => `+${name}`).join(' ');
  try {
    await writeValue(file, value);
  } catch (err) {
    const cause = err as IsolabError;
    throw new IsolabError({
      kind: cause.kind === 'not-found' ? 'unsupported' : cause.kind,
      op: `enable controllers "${value}" in`,
      value: file,
      reason: subtreeErrors[cause.code ?? ''],
      errno: cause.errno,
      cause: err,
    });
  }
}

/** Returns the protection files that `resources` sets above zero. */
export function requestedProtection(resources: LinuxResources): ProtectionFile[] {
  const unified = resources.unified ?? {};
  const asks = (value: string | number | undefined): boolean =>
    value !== undefined && String(value).trim() !== '0';
  const files: ProtectionFile[] = [];
  if (asks(resources.memory?.reservation) || asks(unified['memory.low'])) files.push('memory.low');
  if (asks(unified['memory.min'])) files.push('memory.min');
  return files;
}

/** Parses memory.low or memory.min: "max" is Infinity. */
function parseProtection(text: string): number {
  return text === 'max' ? Infinity : Number(text);
}

/**
 * Returns one reason per ancestor whose memory.low or memory.min is below the
 * value in the cgroup at `path`. The kernel caps a child's effective
 * protection at what its parent passes down, so such an ancestor limits or
 * voids the protection. The root cgroup has no such files and is skipped.
 */
export async function protectionWarningsV2(
  mountPoint: string,
  path: string,
  created: ReadonlySet<string>,
): Promise<string[]> {
  const warnings: string[] = [];
  for (const file of ['memory.low', 'memory.min'] as const) {
    const ownText = await readOptional(join(mountPoint, path, file));
    const own = ownText === undefined ? 0 : parseProtection(ownText);
    if (!(own > 0)) continue;

    for (const ancestor of pathPrefixes(path).slice(0, -1)) {
      const origin = created.has(ancestor) ? 'created by the engine' : 'not created by the engine';
      const text = await readOptional(join(mountPoint, ancestor, file));
      if (text === undefined) {
        warnings.push(`ancestor ${ancestor} (${origin}) has no ${file}, because the memory ` +
          'controller is not enabled in its parent, so it passes no protection down');
      } else if (parseProtection(text) < own) {
        warnings.push(`${file} of ancestor ${ancestor} (${origin}) is ${text}, below the ` +
          `${ownText} of ${path}, so the kernel protects at most ${text} bytes of it`);
      }
    }
  }
  return warnings;
}
