// The cpu controller: weight and bandwidth limits, and CPU time used.

import { join } from 'node:path';

import type { LinuxResources } from '../spec/oci.js';
import {
  parseInteger, readFlatKeyed, readIntegerOptional, readOptional, readRequired,
} from './files.js';
import { setField, type ControllerDirs, type ControllerOps } from './ops.js';
import { addPressure } from './pressure.js';
import type { CgroupStats, CgroupVersion } from './types.js';
import { checkInteger } from './validate.js';

const field = 'linux.resources.cpu';

/** CFS bandwidth period used when a quota comes without one, in microseconds. */
export const defaultPeriodUsec = 100000;

/**
 * USER_HZ, the unit of cpuacct.stat. It is 100 on every architecture Linux
 * supports today (alpha, which used 1024, was the exception).
 */
const userHz = 100;

/**
 * Converts v1 cpu.shares (2 to 262144, default 1024) to v2 cpu.weight (1 to
 * 10000, default 100) with the quadratic fit of runc 1.3.2 and later, which
 * maps minimum, default and maximum onto each other: 2 -> 1, 1024 -> 100,
 * 262144 -> 10000. The older linear formula 1 + (shares - 2) * 9999 / 262142
 * mapped the default 1024 to 39.
 */
export function sharesToWeight(shares: number): number {
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612 - 7 / 34;
  return Math.ceil(10 ** exponent);
}

function validate(resources: LinuxResources): void {
  const cpu = resources.cpu;
  if (!cpu) return;
  if (cpu.shares !== undefined) {
    checkInteger(`${field}.shares`, cpu.shares,
      { min: 2, max: 262144, expected: 'an integer from 2 to 262144' });
  }

  // The kernel rejects a quota or period under 1 ms and a period over 1 s.
  if (cpu.quota !== undefined) {
    checkInteger(`${field}.quota`, cpu.quota,
      { min: 1000, unlimited: true, expected: 'a number of microseconds of at least 1000' });
  }
  if (cpu.period !== undefined) {
    checkInteger(`${field}.period`, cpu.period,
      { min: 1000, max: 1000000, expected: 'a number of microseconds from 1000 to 1000000' });
  }
  if (cpu.idle !== undefined) {
    checkInteger(`${field}.idle`, cpu.idle, { min: 0, max: 1, expected: '0 or 1' });
  }
}

function requested(resources: LinuxResources): boolean {
  const cpu = resources.cpu;
  if (!cpu) return false;
  return [cpu.shares, cpu.quota, cpu.period, cpu.idle].some((value) => value !== undefined);
}

async function applyV2(dirs: ControllerDirs, resources: LinuxResources): Promise<void> {
  const cpu = resources.cpu;
  if (!cpu) return;
  const { dir } = dirs;
  if (cpu.shares !== undefined) {
    await setField(dir, 'cpu.weight', String(sharesToWeight(cpu.shares)), `${field}.shares`,
      cpu.shares);
  }

  // cpu.max is "<quota|max> <period>" in one write.
  if (cpu.quota !== undefined) {
    const quota = cpu.quota === -1 ? 'max' : String(cpu.quota);
    await setField(dir, 'cpu.max', `${quota} ${cpu.period ?? defaultPeriodUsec}`,
      `${field}.quota`, cpu.quota);
  } else if (cpu.period !== undefined) {
    const current = await readRequired(join(dir, 'cpu.max'));
    const quota = current.split(/\s+/)[0] ?? 'max';
    await setField(dir, 'cpu.max', `${quota} ${cpu.period}`, `${field}.period`, cpu.period);
  }

  if (cpu.idle !== undefined) {
    await setField(dir, 'cpu.idle', String(cpu.idle), `${field}.idle`, cpu.idle);
  }
}

async function applyV1(dirs: ControllerDirs, resources: LinuxResources): Promise<void> {
  const cpu = resources.cpu;
  if (!cpu) return;
  const { dir } = dirs;
  if (cpu.shares !== undefined) {
    await setField(dir, 'cpu.shares', String(cpu.shares), `${field}.shares`, cpu.shares);
  }

  // The period goes first, so the quota is checked against the new period.
  const period = cpu.period ?? (cpu.quota !== undefined ? defaultPeriodUsec : undefined);
  if (period !== undefined) {
    await setField(dir, 'cpu.cfs_period_us', String(period), `${field}.period`, period);
  }
  if (cpu.quota !== undefined) {
    await setField(dir, 'cpu.cfs_quota_us', String(cpu.quota), `${field}.quota`, cpu.quota);
  }

  if (cpu.idle !== undefined) {
    await setField(dir, 'cpu.idle', String(cpu.idle), `${field}.idle`, cpu.idle);
  }
}

/** Parses v2 cpu.max, "max 100000" or "20000 100000". */
export function parseCpuMax(text: string): { quotaUsec: number | null; periodUsec: number } {
  const [quota = 'max', period = String(defaultPeriodUsec)] = text.split(/\s+/);
  return {
    quotaUsec: quota === 'max' ? null : parseInteger(quota, 'cpu.max'),
    periodUsec: parseInteger(period, 'cpu.max'),
  };
}

async function statsV2(dirs: ControllerDirs, stats: CgroupStats): Promise<void> {
  const { dir } = dirs;
  const stat = (await readFlatKeyed(join(dir, 'cpu.stat'))) ?? {};
  const cpu: NonNullable<CgroupStats['cpu']> = {
    usageUsec: stat.usage_usec ?? 0,
    userUsec: stat.user_usec,
    systemUsec: stat.system_usec,
    nrPeriods: stat.nr_periods,
    nrThrottled: stat.nr_throttled,
    throttledUsec: stat.throttled_usec,
  };

  // cpu.weight and cpu.max exist only where the cpu controller is enabled.
  const weight = await readIntegerOptional(join(dir, 'cpu.weight'));
  if (weight !== undefined) cpu.weight = weight;
  const max = await readOptional(join(dir, 'cpu.max'));
  if (max !== undefined) Object.assign(cpu, parseCpuMax(max));
  stats.cpu = dropUndefined(cpu);
  await addPressure(dir, 'cpu', stats);
}

async function statsV1(dirs: ControllerDirs, stats: CgroupStats): Promise<void> {
  const { dir, cpuacctDir } = dirs;

  // NOTE: without a cpuacct hierarchy v1 has no CPU usage, so no cpu stats at all.
  if (!cpuacctDir) return;
  const usageNsec = await readIntegerOptional(join(cpuacctDir, 'cpuacct.usage'));
  if (usageNsec === undefined) return;
  const ticks = (await readFlatKeyed(join(cpuacctDir, 'cpuacct.stat'))) ?? {};
  const stat = (await readFlatKeyed(join(dir, 'cpu.stat'))) ?? {};
  const toUsec = (tickCount: number | undefined): number | undefined =>
    tickCount === undefined ? undefined : (tickCount * 1e6) / userHz;
  const cpu: NonNullable<CgroupStats['cpu']> = {
    usageUsec: Math.floor(usageNsec / 1000),
    userUsec: toUsec(ticks.user),
    systemUsec: toUsec(ticks.system),
    nrPeriods: stat.nr_periods,
    nrThrottled: stat.nr_throttled,
    throttledUsec: stat.throttled_time === undefined
      ? undefined : Math.floor(stat.throttled_time / 1000),
  };

  const shares = await readIntegerOptional(join(dir, 'cpu.shares'));
  if (shares !== undefined) cpu.weight = sharesToWeight(shares);
  const quota = await readIntegerOptional(join(dir, 'cpu.cfs_quota_us'));
  if (quota !== undefined) cpu.quotaUsec = quota === -1 ? null : quota;
  const period = await readIntegerOptional(join(dir, 'cpu.cfs_period_us'));
  if (period !== undefined) cpu.periodUsec = period;
  stats.cpu = dropUndefined(cpu);
  await addPressure(dir, 'cpu', stats);
}

function dropUndefined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) {
    if (value[key] === undefined) delete value[key];
  }
  return value;
}

function makeOps(version: CgroupVersion): ControllerOps {
  return {
    name: 'cpu',
    version,
    requested,
    validate,
    apply: version === 2 ? applyV2 : applyV1,
    stats: version === 2 ? statsV2 : statsV1,
  };
}

export const cpuV1 = makeOps(1);
export const cpuV2 = makeOps(2);
