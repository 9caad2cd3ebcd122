// Freezing: freezer.state on v1, cgroup.freeze and cgroup.events on v2.
// Both kernels freeze tasks asynchronously, so each change is polled until
// the state settles.

import { join } from 'node:path';

import { IsolabError } from '../errors.js';
import { pollUntil, readFlatKeyed, readRequired, writeValue } from './files.js';

/** How long a freeze or thaw may take before it counts as stuck, in milliseconds. */
export const defaultFreezeTimeoutMs = 5000;

/** Freezer operations of one cgroup version, given the cgroup's freezer directory. */
export interface FreezerOps {
  freeze(dir: string, timeoutMs?: number): Promise<void>;
  thaw(dir: string, timeoutMs?: number): Promise<void>;
  isFrozen(dir: string): Promise<boolean>;
}

function stuck(op: string, dir: string, state: string, timeoutMs: number): IsolabError {
  return new IsolabError({
    kind: 'timeout',
    op,
    value: dir,
    reason: `the state was still ${state} after ${timeoutMs} ms`,
  });
}

async function readV1State(dir: string): Promise<string> {
  return readRequired(join(dir, 'freezer.state'));
}

/**
 * v1 freezer.state reads FREEZING until every task has stopped. Writing
 * FROZEN again retries the tasks that were not frozen yet, such as a task
 * that forked meanwhile.
 */
async function freezeV1(dir: string, timeoutMs = defaultFreezeTimeoutMs): Promise<void> {
  const file = join(dir, 'freezer.state');
  await writeValue(file, 'FROZEN');
  let state = '';
  const settled = await pollUntil(async () => {
    state = await readV1State(dir);
    if (state === 'FROZEN') return true;
    await writeValue(file, 'FROZEN');
    return false;
  }, timeoutMs);
  if (settled) return;

  // Leave no task half frozen when giving up.
  await writeValue(file, 'THAWED');
  throw stuck('freeze cgroup', dir, state, timeoutMs);
}

async function thawV1(dir: string, timeoutMs = defaultFreezeTimeoutMs): Promise<void> {
  await writeValue(join(dir, 'freezer.state'), 'THAWED');
  let state = '';
  const settled = await pollUntil(async () => {
    state = await readV1State(dir);
    return state === 'THAWED';
  }, timeoutMs);
  if (!settled) throw stuck('thaw cgroup', dir, state, timeoutMs);
}

/** Reads `frozen` from v2 cgroup.events, which is 1 once every task has stopped. */
async function readV2Frozen(dir: string): Promise<number | undefined> {
  const events = await readFlatKeyed(join(dir, 'cgroup.events'));
  return events?.frozen;
}

async function setV2(dir: string, frozen: 0 | 1, timeoutMs: number): Promise<void> {
  await writeValue(join(dir, 'cgroup.freeze'), String(frozen));
  let state: number | undefined;
  const settled = await pollUntil(async () => {
    state = await readV2Frozen(dir);
    return state === frozen;
  }, timeoutMs);
  if (settled) return;

  const op = frozen ? 'freeze cgroup' : 'thaw cgroup';
  if (frozen) await writeValue(join(dir, 'cgroup.freeze'), '0');
  throw stuck(op, dir, `frozen ${state ?? 'missing'} in cgroup.events`, timeoutMs);
}

export const freezerV1: FreezerOps = {
  freeze: freezeV1,
  thaw: thawV1,
  isFrozen: async (dir) => (await readV1State(dir)) === 'FROZEN',
};

export const freezerV2: FreezerOps = {
  freeze: (dir, timeoutMs = defaultFreezeTimeoutMs) => setV2(dir, 1, timeoutMs),
  thaw: (dir, timeoutMs = defaultFreezeTimeoutMs) => setV2(dir, 0, timeoutMs),
  isFrozen: async (dir) => (await readV2Frozen(dir)) === 1,
};
