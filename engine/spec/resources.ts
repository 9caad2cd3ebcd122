// Checks for `linux.resources`: the cgroup limits that isolab applies.

import {
  expectArray,
  expectBoolean,
  expectInteger,
  expectObject,
  expectString,
  expectStringMap,
  fieldError,
  joinPath,
  optional,
  unsupportedField,
  type JsonObject,
} from './check.js';
import type { LinuxResources } from './oci.js';

const INT64_RANGE = { min: 0, max: Number.MAX_SAFE_INTEGER };
const UNLIMITED_INT64 = { ...INT64_RANGE, unlimited: -1 };

/** Validates `linux.resources` and returns it typed. */
export function validateResources(value: unknown, path: string): LinuxResources {
  const object = expectObject(value, path, {
    known: ['devices', 'memory', 'cpu', 'pids', 'blockIO', 'unified'],
    unsupported: ['hugepageLimits', 'network', 'rdma'],
  });
  optional(object, 'devices', path, checkDeviceRules);
  optional(object, 'memory', path, checkMemory);
  optional(object, 'cpu', path, checkCpu);
  optional(object, 'pids', path, checkPids);
  optional(object, 'blockIO', path, checkBlockIO);
  optional(object, 'unified', path, checkUnified);
  return object as LinuxResources;
}

// The engine creates only the minimal /dev and adds no device cgroup rules, so the
// only accepted rule list is runc's deny-all default, which has the same effect.
function checkDeviceRules(value: unknown, path: string): void {
  const rules = expectArray(value, path);
  if (rules.length === 0) return;
  const [rule] = rules;
  const isDenyAll =
    rules.length === 1 &&
    typeof rule === 'object' &&
    rule !== null &&
    JSON.stringify(Object.entries(rule).sort()) ===
      JSON.stringify([['access', 'rwm'], ['allow', false]]);
  if (!isDenyAll) throw unsupportedField(path, value);
}

function checkMemory(value: unknown, path: string): void {
  const object = expectObject(value, path, {
    known: ['limit', 'reservation', 'swap', 'swappiness', 'disableOOMKiller'],
    unsupported: ['kernel', 'kernelTCP', 'useHierarchy', 'checkBeforeUpdate'],
  });
  for (const key of ['limit', 'reservation', 'swap']) {
    optional(object, key, path, (v, p) => expectInteger(v, p, UNLIMITED_INT64));
  }
  optional(object, 'swappiness', path, (v, p) => expectInteger(v, p, { min: 0, max: 100 }));
  optional(object, 'disableOOMKiller', path, expectBoolean);
}

function checkCpu(value: unknown, path: string): void {
  const object = expectObject(value, path, {
    known: ['shares', 'quota', 'period', 'cpus', 'mems', 'idle'],
    unsupported: ['burst', 'realtimeRuntime', 'realtimePeriod'],
  });
  // Ranges from the kernel: cpu.shares 2..262144, and a CFS period from 1 ms to 1 s
  // with a quota of at least 1 ms (kernel/sched/core.c, tg_set_cfs_bandwidth).
  optional(object, 'shares', path, (v, p) => expectInteger(v, p, { min: 2, max: 262144 }));
  optional(object, 'quota', path, (v, p) =>
    expectInteger(v, p, { min: 1000, max: Number.MAX_SAFE_INTEGER, unlimited: -1 }),
  );
  optional(object, 'period', path, (v, p) => expectInteger(v, p, { min: 1000, max: 1000000 }));
  optional(object, 'cpus', path, checkCpuList);
  optional(object, 'mems', path, checkCpuList);
  optional(object, 'idle', path, (v, p) => expectInteger(v, p, { min: 0, max: 1 }));
}

// A cpuset list such as `0-3,8`, as cpuset.cpus and cpuset.mems take it.
function checkCpuList(value: unknown, path: string): void {
  const text = expectString(value, path);
  if (text === '') return;
  for (const range of text.split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(range);
    if (match === null || (match[2] !== undefined && Number(match[2]) < Number(match[1]))) {
      throw fieldError(path, value, 'must be a list of numbers and ranges such as 0-3,8');
    }
  }
}

function checkPids(value: unknown, path: string): void {
  const object = expectObject(value, path, { known: ['limit'], required: ['limit'] });
  expectInteger(object.limit, joinPath(path, 'limit'), UNLIMITED_INT64);
}

function checkBlockIO(value: unknown, path: string): void {
  const throttles = [
    'throttleReadBpsDevice',
    'throttleWriteBpsDevice',
    'throttleReadIOPSDevice',
    'throttleWriteIOPSDevice',
  ];
  const object = expectObject(value, path, {
    known: ['weight', ...throttles],
    unsupported: ['leafWeight', 'weightDevice'],
  });
  optional(object, 'weight', path, (v, p) => expectInteger(v, p, { min: 10, max: 1000 }));
  for (const key of throttles) optional(object, key, path, checkThrottleDevices);
}

function checkThrottleDevices(value: unknown, path: string): void {
  expectArray(value, path).forEach((item, i) => {
    const itemPath = joinPath(path, i);
    const device: JsonObject = expectObject(item, itemPath, {
      known: ['major', 'minor', 'rate'],
      required: ['major', 'minor', 'rate'],
    });
    for (const key of ['major', 'minor', 'rate']) {
      expectInteger(device[key], joinPath(itemPath, key), INT64_RANGE);
    }
  });
}

// Keys are cgroup v2 file names written inside the container's cgroup directory,
// so a key must not be able to name a path outside it.
function checkUnified(value: unknown, path: string): void {
  const map = expectStringMap(value, path);
  for (const key of Object.keys(map)) {
    if (!/^[a-z][a-z0-9_]*\.[a-z0-9_.]+$/.test(key) || key.includes('..')) {
      throw fieldError(joinPath(path, key), key, 'must be a cgroup file name such as memory.high');
    }
  }
}
