// The memory controller: memory.max and friends on v2, memory.limit_in_bytes
// and friends on v1.

import { join } from 'node:path';

import { IsolabError, invalidField } from '../errors.js';
import type { LinuxMemory, LinuxResources } from '../spec/oci.js';
import {
  exists, readFlatKeyed, readInteger, readIntegerOptional, readOptional, readRequired, writeValue,
} from './files.js';
import {
  parseMax, setField, setsAnything, type ControllerDirs, type ControllerOps,
} from './ops.js';
import { addPressure } from './pressure.js';
import type { CgroupStats, CgroupVersion } from './types.js';
import { checkInteger, unsupported } from './validate.js';

const field = 'linux.resources.memory';
const bytes = { min: 0, unlimited: true, expected: 'a byte count of 0 or more' };

/**
 * The smallest value read back from a v1 limit file that means "unlimited".
 * The kernel stores PAGE_COUNTER_MAX pages and prints it in bytes, such as
 * 9223372036854771712 with 4 KiB pages. No real limit comes near 2^62.
 */
const v1Unlimited = 2 ** 62;

/** Returns whether `stored` is `requested` rounded down to a page, as the kernel does. */
export function acceptRounded(requested: number, stored: number): boolean {
  if (stored === requested) return true;

  // Pages are 4 KiB to 64 KiB on the architectures Linux supports.
  return stored < requested && requested - stored < 65536 && stored % 4096 === 0;
}

function validate(memory: LinuxMemory, version: CgroupVersion): void {
  if (memory.limit !== undefined) checkInteger(`${field}.limit`, memory.limit, bytes);
  if (memory.reservation !== undefined) {
    checkInteger(`${field}.reservation`, memory.reservation, bytes);
  }
  if (memory.swap !== undefined) {
    checkInteger(`${field}.swap`, memory.swap, bytes);
    checkSwap(memory, version);
  }
  if (memory.swappiness !== undefined) {
    if (version === 2) {
      throw unsupported(`${field}.swappiness`, memory.swappiness,
        'cgroup v2 has no per-cgroup swappiness');
    }
    checkInteger(`${field}.swappiness`, memory.swappiness,
      { min: 0, max: 100, expected: 'an integer from 0 to 100' });
  }
  if (memory.disableOOMKiller !== undefined) {
    if (typeof memory.disableOOMKiller !== 'boolean') {
      throw invalidField(`${field}.disableOOMKiller`, memory.disableOOMKiller,
        'must be a boolean');
    }
    if (version === 2 && memory.disableOOMKiller) {
      throw unsupported(`${field}.disableOOMKiller`, true,
        'cgroup v2 cannot turn off the OOM killer for a cgroup');
    }
  }
}

/** OCI swap is memory plus swap, so it cannot be below the memory limit. */
function checkSwap(memory: LinuxMemory, version: CgroupVersion): void {
  const { limit, swap } = memory;
  if (swap === -1 || swap === undefined) return;
  if (limit === -1) {
    throw invalidField(`${field}.swap`, swap,
      'must be -1 when linux.resources.memory.limit is -1');
  }
  if (limit === undefined && version === 2) {
    throw invalidField(`${field}.swap`, swap,
      'needs linux.resources.memory.limit on cgroup v2, where memory.swap.max is swap alone');
  }
  if (limit !== undefined && swap < limit) {
    throw invalidField(`${field}.swap`, swap,
      `counts memory plus swap, so it must be at least the memory limit ${limit}`);
  }
}

/** Writes a byte value and checks what the kernel stored. -1 becomes `unlimited`. */
async function setBytes(
  dir: string,
  file: string,
  value: number,
  fieldName: string,
  unlimited: string,
): Promise<void> {
  await setField(dir, file, value === -1 ? unlimited : String(value), fieldName, value);
  if (value === -1) return;

  const text = await readRequired(join(dir, file));
  const stored = text === 'max' ? Infinity : Number(text);
  if (!acceptRounded(value, stored)) {
    throw new IsolabError({
      kind: 'system',
      op: `set ${fieldName}`,
      value: String(value),
      reason: `${join(dir, file)} reads back "${text}"`,
    });
  }
}

async function applyV2(dirs: ControllerDirs, resources: LinuxResources): Promise<void> {
  const memory = resources.memory;
  if (!memory) return;
  const { dir } = dirs;
  if (memory.limit !== undefined) {
    await setBytes(dir, 'memory.max', memory.limit, `${field}.limit`, 'max');
  }

  if (memory.swap !== undefined) {
    const hasSwapFile = await exists(join(dir, 'memory.swap.max'));
    if (!hasSwapFile && memory.swap !== -1) {
      throw unsupported(`${field}.swap`, memory.swap,
        'memory.swap.max does not exist, so the kernel has no swap accounting');
    }
    if (hasSwapFile) {
      const swapOnly = memory.swap === -1 ? -1 : memory.swap - (memory.limit ?? 0);
      await setBytes(dir, 'memory.swap.max', swapOnly, `${field}.swap`, 'max');
    }
  }

  if (memory.reservation !== undefined) {
    await setBytes(dir, 'memory.low', memory.reservation, `${field}.reservation`, 'max');
  }
}

async function applyV1(dirs: ControllerDirs, resources: LinuxResources): Promise<void> {
  const memory = resources.memory;
  if (!memory) return;
  const { dir } = dirs;
  await applyLimitAndSwapV1(dir, memory);

  if (memory.reservation !== undefined) {
    await setBytes(dir, 'memory.soft_limit_in_bytes', memory.reservation,
      `${field}.reservation`, '-1');
  }
  if (memory.swappiness !== undefined) {
    await setField(dir, 'memory.swappiness', String(memory.swappiness), `${field}.swappiness`,
      memory.swappiness);
  }
  if (memory.disableOOMKiller !== undefined) {
    await setField(dir, 'memory.oom_control', memory.disableOOMKiller ? '1' : '0',
      `${field}.disableOOMKiller`, memory.disableOOMKiller);
  }
}

/**
 * Writes memory.limit_in_bytes and memory.memsw.limit_in_bytes in an order
 * that keeps limit <= memsw after each write, because the kernel rejects a
 * write that breaks it (EINVAL).
 */
async function applyLimitAndSwapV1(dir: string, memory: LinuxMemory): Promise<void> {
  const memswFile = 'memory.memsw.limit_in_bytes';
  const hasMemsw = await exists(join(dir, memswFile));
  let swap = memory.swap;

  // Lifting the limit needs the memsw limit lifted too, or the write fails.
  if (swap === undefined && memory.limit === -1 && hasMemsw) swap = -1;
  if (swap !== undefined && !hasMemsw) {
    if (swap !== -1) {
      throw unsupported(`${field}.swap`, swap,
        `${memswFile} does not exist, so swap accounting is off (boot with swapaccount=1)`);
    }
    swap = undefined;
  }

  const writeLimit = async (): Promise<void> => {
    if (memory.limit === undefined) return;
    await setBytes(dir, 'memory.limit_in_bytes', memory.limit, `${field}.limit`, '-1');
  };
  const writeSwap = async (): Promise<void> => {
    if (swap === undefined) return;
    await setBytes(dir, memswFile, swap, `${field}.swap`, '-1');
  };

  const currentMemsw = swap === undefined ? 0 : await readInteger(join(dir, memswFile));
  const limitFirst = memory.limit !== undefined && memory.limit !== -1
    && memory.limit <= currentMemsw;
  if (limitFirst) {
    await writeLimit();
    await writeSwap();
  } else {
    await writeSwap();
    await writeLimit();
  }
}

/** Parses a v1 limit: the kernel's "unlimited" value is null. */
/**
 * Makes a new v1 memory cgroup hierarchical, so that its parent's limit
 * covers it. Before 5.11, memory.use_hierarchy is 0 in the root and in new
 * cgroups unless an init such as systemd sets it, and a child is then not
 * charged to its parent. Children inherit the value, so it is set before the
 * first child exists. Later kernels always read 1 and reject a write of 0.
 */
export async function makeHierarchicalV1(dir: string): Promise<void> {
  const file = join(dir, 'memory.use_hierarchy');
  if ((await readOptional(file)) === '0') await writeValue(file, '1');
}

export function parseV1Limit(text: string): number | null {
  const value = Number(text);
  return value >= v1Unlimited || value === -1 ? null : value;
}

async function statsV2(dirs: ControllerDirs, stats: CgroupStats): Promise<void> {
  const { dir } = dirs;
  const limitText = await readRequired(join(dir, 'memory.max'));
  const events = (await readFlatKeyed(join(dir, 'memory.events'))) ?? {};
  stats.memory = {
    usage: await readInteger(join(dir, 'memory.current')),
    limit: parseMax(limitText, join(dir, 'memory.max')),
    events: pickEvents(events, ['low', 'high', 'max', 'oom', 'oom_kill']),
    stat: (await readFlatKeyed(join(dir, 'memory.stat'))) ?? {},
  };

  // memory.peak appeared in Linux 5.19, memory.swap.* needs swap accounting.
  const peak = await readIntegerOptional(join(dir, 'memory.peak'));
  if (peak !== undefined) stats.memory.maxUsage = peak;
  const swap = await readIntegerOptional(join(dir, 'memory.swap.current'));
  if (swap !== undefined) stats.memory.swapUsage = swap;
  await addPressure(dir, 'memory', stats);
}

async function statsV1(dirs: ControllerDirs, stats: CgroupStats): Promise<void> {
  const { dir } = dirs;
  const usage = await readInteger(join(dir, 'memory.usage_in_bytes'));
  const events: NonNullable<CgroupStats['memory']>['events'] = {};
  const failcnt = await readIntegerOptional(join(dir, 'memory.failcnt'));
  if (failcnt !== undefined) events.max = failcnt;
  const oomControl = await readFlatKeyed(join(dir, 'memory.oom_control'));

  // oom_kill appeared in memory.oom_control in Linux 4.13.
  if (oomControl?.oom_kill !== undefined) events.oom_kill = oomControl.oom_kill;
  stats.memory = {
    usage,
    limit: parseV1Limit(await readRequired(join(dir, 'memory.limit_in_bytes'))),
    events,
    stat: (await readFlatKeyed(join(dir, 'memory.stat'))) ?? {},
  };

  const maxUsage = await readIntegerOptional(join(dir, 'memory.max_usage_in_bytes'));
  if (maxUsage !== undefined) stats.memory.maxUsage = maxUsage;

  // memsw counts memory plus swap, and exists only with swap accounting.
  const memsw = await readOptional(join(dir, 'memory.memsw.usage_in_bytes'));
  if (memsw !== undefined) stats.memory.swapUsage = Math.max(0, Number(memsw) - usage);
  const kernel = await readIntegerOptional(join(dir, 'memory.kmem.usage_in_bytes'));
  if (kernel !== undefined) stats.memory.kernelUsage = kernel;
  await addPressure(dir, 'memory', stats);
}

function pickEvents<K extends string>(
  source: Record<string, number>,
  keys: K[],
): Partial<Record<K, number>> {
  const events: Partial<Record<K, number>> = {};
  for (const key of keys) {
    if (source[key] !== undefined) events[key] = source[key];
  }
  return events;
}

function makeOps(version: CgroupVersion): ControllerOps {
  return {
    name: 'memory',
    version,
    requested: (resources) => setsAnything(resources.memory),
    validate: (resources) => {
      if (resources.memory) validate(resources.memory, version);
    },
    apply: version === 2 ? applyV2 : applyV1,
    stats: version === 2 ? statsV2 : statsV1,
  };
}

export const memoryV1 = makeOps(1);
export const memoryV2 = makeOps(2);
