import { promises as fs } from 'node:fs';

import { expect, test } from '@playwright/test';

import { acceptRounded, parseV1Limit } from '../memory.js';
import { blkioToIoWeight, ioMaxLines, mergeBlkioStat, parseIoStat } from '../io.js';
import { parseCpuMax, sharesToWeight } from '../cpu.js';
import { openCgroup, type Cgroup } from '../index.js';
import { parsePressure } from '../pressure.js';
import { fakeHybrid, fakeUnified, type FakeCgroupFs } from './fakefs.js';

const v2MemoryStat = [
  'anon 1245184', 'file 3072000', 'kernel 675840', 'kernel_stack 65536', 'pagetables 126976',
  'sock 0', 'shmem 0', 'file_mapped 1540096', 'file_dirty 0', 'pgfault 2341', 'pgmajfault 3',
  'workingset_refault_anon 0', 'thp_fault_alloc 0',
].join('\n');

const v2CpuStat = [
  'usage_usec 36177085', 'user_usec 24304929', 'system_usec 11872156', 'nice_usec 0',
  'core_sched.force_idle_usec 0', 'nr_periods 100', 'nr_throttled 7', 'throttled_usec 123456',
  'nr_bursts 0', 'burst_usec 0',
].join('\n');

const pressureText = 'some avg10=1.50 avg60=0.25 avg300=0.05 total=123456\n' +
  'full avg10=0.75 avg60=0.10 avg300=0.00 total=65432\n';

const blkioBytes = [
  '254:0 Read 4096', '254:0 Write 8192', '254:0 Sync 12288', '254:0 Async 0',
  '254:0 Discard 0', '254:0 Total 12288', 'Total 12288',
].join('\n');

const blkioIos = [
  '254:0 Read 1', '254:0 Write 2', '254:0 Sync 3', '254:0 Async 0', '254:0 Discard 0',
  '254:0 Total 3', 'Total 3',
].join('\n');

const shareTable: [number, number][] = [
  [2, 1], [1024, 100], [262144, 10000], [512, 59], [2048, 174], [4096, 303], [262143, 10000],
];

for (const [shares, weight] of shareTable) {
  test(`shares ${shares} convert to weight ${weight}`, () => {
    expect(sharesToWeight(shares)).toBe(weight);
  });
}

test('share conversion keeps order', () => {
  let previous = 0;
  for (let shares = 2; shares <= 262144; shares += 97) {
    const weight = sharesToWeight(shares);
    expect(weight).toBeGreaterThanOrEqual(previous);
    previous = weight;
  }
});

test('blkio weight converts across the io.weight range', () => {
  expect(blkioToIoWeight(10)).toBe(1);
  expect(blkioToIoWeight(500)).toBe(4950);
  expect(blkioToIoWeight(1000)).toBe(10000);
});

test('page-rounded memory limits are accepted', () => {
  expect(acceptRounded(33554432, 33554432)).toBe(true);
  expect(acceptRounded(33554433, 33554432)).toBe(true);
  expect(acceptRounded(1000, 0)).toBe(true);
  expect(acceptRounded(33554432, 33550336 - 65536)).toBe(false);
  expect(acceptRounded(33554432, 67108864)).toBe(false);
  expect(acceptRounded(33554433, 33554431)).toBe(false);
});

test('v1 unlimited reads as null', () => {
  expect(parseV1Limit('9223372036854771712')).toBeNull();
  expect(parseV1Limit('9223372036854710272')).toBeNull();
  expect(parseV1Limit('33554432')).toBe(33554432);
});

test('cpu.max parses quota and period', () => {
  expect(parseCpuMax('max 100000')).toEqual({ quotaUsec: null, periodUsec: 100000 });
  expect(parseCpuMax('20000 50000')).toEqual({ quotaUsec: 20000, periodUsec: 50000 });
});

test('pressure parses some and full lines', () => {
  expect(parsePressure(pressureText)).toEqual({
    some: { avg10: 1.5, avg60: 0.25, avg300: 0.05, total: 123456 },
    full: { avg10: 0.75, avg60: 0.1, avg300: 0, total: 65432 },
  });
  expect(parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00 total=9')?.full).toBeUndefined();
});

test('io.stat parses per-device counters', () => {
  const text = '254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n' +
    '8:16 rbytes=0 wbytes=0 rios=0 wios=0 dbytes=0 dios=0\n';
  expect(parseIoStat(text)).toEqual({
    '254:0': { rbytes: 4096, wbytes: 8192, rios: 1, wios: 2, dbytes: 0, dios: 0 },
    '8:16': { rbytes: 0, wbytes: 0, rios: 0, wios: 0, dbytes: 0, dios: 0 },
  });
});

test('blkio lines merge under v2 names', () => {
  const stat: Record<string, Record<string, number>> = {};
  mergeBlkioStat(blkioBytes, 'bytes', stat);
  mergeBlkioStat(blkioIos, 'ios', stat);
  expect(stat).toEqual({
    '254:0': { rbytes: 4096, wbytes: 8192, dbytes: 0, rios: 1, wios: 2, dios: 0 },
  });
});

test('io.max lines group devices', () => {
  const lines = ioMaxLines({
    throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 100 }, { major: 8, minor: 16, rate: 5 }],
    throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 200 }],
  });
  expect([...lines.values()]).toEqual(['8:0 rbps=100 wbps=200', '8:16 rbps=5']);
});

test.describe('v2 stats', () => {
  let fake: FakeCgroupFs;
  let cgroup: Cgroup;
  const leaf = 'sys/fs/cgroup/isolab/web1';

  test.beforeEach(async () => {
    fake = await fakeUnified({ subtreeControl: 'cpuset cpu io memory pids' });
    cgroup = await openCgroup('isolab/web1', {
      root: fake.root, mountinfo: fake.mountinfo, system: fake.system,
    });
    await cgroup.create();
  });

  test.afterEach(async () => {
    await fake.cleanup();
  });

  test('stats read v2 files', async () => {
    await fake.write(`${leaf}/memory.current`, '4325376\n');
    await fake.write(`${leaf}/memory.max`, '33554432\n');
    await fake.write(`${leaf}/memory.peak`, '5000000\n');
    await fake.write(`${leaf}/memory.events`,
      'low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n');
    await fake.write(`${leaf}/memory.stat`, v2MemoryStat);
    await fake.write(`${leaf}/pids.current`, '3\n');
    await fake.write(`${leaf}/pids.max`, '10\n');
    await fake.write(`${leaf}/pids.events`, 'max 4\n');
    await fake.write(`${leaf}/cpu.stat`, v2CpuStat);
    await fake.write(`${leaf}/cpu.max`, '20000 100000\n');
    await fake.write(`${leaf}/io.stat`,
      '254:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n');
    await fake.write(`${leaf}/memory.pressure`, pressureText);

    const stats = await cgroup.stats();
    expect(stats.memory).toEqual({
      usage: 4325376,
      limit: 33554432,
      maxUsage: 5000000,
      swapUsage: 0,
      events: { low: 0, high: 0, max: 12, oom: 1, oom_kill: 1 },
      stat: expect.objectContaining({ anon: 1245184, file: 3072000, pgmajfault: 3 }),
    });
    expect(stats.pids).toEqual({ current: 3, limit: 10, events: { max: 4 } });
    expect(stats.cpu).toEqual({
      usageUsec: 36177085, userUsec: 24304929, systemUsec: 11872156, nrPeriods: 100,
      nrThrottled: 7, throttledUsec: 123456, weight: 100, quotaUsec: 20000, periodUsec: 100000,
    });
    expect(stats.io?.stat['254:0']?.rbytes).toBe(4096);
    expect(stats.pressure?.memory?.some.total).toBe(123456);
    expect(stats.pressure?.cpu?.some.total).toBe(0);
  });

  test('stats skip files of optional features', async () => {
    for (const file of ['memory.peak', 'memory.swap.current', 'memory.pressure', 'cpu.pressure',
      'io.pressure', 'io.stat']) {
      await fs.unlink(`${fake.root}/${leaf}/${file}`);
    }
    const stats = await cgroup.stats();
    expect(stats.memory?.maxUsage).toBeUndefined();
    expect(stats.memory?.swapUsage).toBeUndefined();
    expect(stats.pressure).toBeUndefined();
    expect(stats.io).toEqual({ stat: {} });
    expect(stats.memory?.limit).toBeNull();
  });

  test('stats of a missing cgroup is not-found', async () => {
    await cgroup.destroy();
    const error = await cgroup.stats().catch((e: { kind?: string }) => e);
    expect((error as { kind: string }).kind).toBe('not-found');
  });
});

test.describe('v1 stats', () => {
  let fake: FakeCgroupFs;
  let cgroup: Cgroup;
  const v1 = (controller: string): string => `sys/fs/cgroup/${controller}/isolab/web1`;

  test.beforeEach(async () => {
    fake = await fakeHybrid();
    cgroup = await openCgroup('isolab/web1', {
      root: fake.root, mountinfo: fake.mountinfo, system: fake.system,
    });
    await cgroup.create();
  });

  test.afterEach(async () => {
    await fake.cleanup();
  });

  test('stats read v1 files', async () => {
    await fake.write(`${v1('memory')}/memory.usage_in_bytes`, '4325376\n');
    await fake.write(`${v1('memory')}/memory.memsw.usage_in_bytes`, '5373952\n');
    await fake.write(`${v1('memory')}/memory.max_usage_in_bytes`, '6000000\n');
    await fake.write(`${v1('memory')}/memory.limit_in_bytes`, '33554432\n');
    await fake.write(`${v1('memory')}/memory.failcnt`, '12\n');
    await fake.write(`${v1('memory')}/memory.kmem.usage_in_bytes`, '675840\n');
    await fake.write(`${v1('memory')}/memory.oom_control`,
      'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    await fake.write(`${v1('memory')}/memory.stat`,
      'cache 11063296\nrss 5193728\nhierarchical_memory_limit 9223372036854771712\n');
    await fake.write(`${v1('pids')}/pids.current`, '3\n');
    await fake.write(`${v1('cpuacct')}/cpuacct.usage`, '37918561786\n');
    await fake.write(`${v1('cpuacct')}/cpuacct.stat`, 'user 2547\nsystem 1244\n');
    await fake.write(`${v1('cpu')}/cpu.stat`,
      'nr_periods 10\nnr_throttled 3\nthrottled_time 45000000\nnr_bursts 0\nburst_time 0\n');
    await fake.write(`${v1('cpu')}/cpu.cfs_quota_us`, '20000\n');
    await fake.write(`${v1('blkio')}/blkio.throttle.io_service_bytes_recursive`, blkioBytes);
    await fake.write(`${v1('blkio')}/blkio.throttle.io_serviced_recursive`, blkioIos);

    const stats = await cgroup.stats();
    expect(stats.memory).toEqual({
      usage: 4325376,
      limit: 33554432,
      maxUsage: 6000000,
      swapUsage: 1048576,
      kernelUsage: 675840,
      events: { max: 12, oom_kill: 2 },
      stat: { cache: 11063296, rss: 5193728, hierarchical_memory_limit: 9223372036854771712 },
    });
    expect(stats.pids).toEqual({ current: 3, limit: null, events: { max: 0 } });
    expect(stats.cpu).toEqual({
      usageUsec: 37918561, userUsec: 25470000, systemUsec: 12440000, nrPeriods: 10,
      nrThrottled: 3, throttledUsec: 45000, weight: 100, quotaUsec: 20000, periodUsec: 100000,
    });
    expect(stats.io?.stat['254:0']).toEqual({
      rbytes: 4096, wbytes: 8192, dbytes: 0, rios: 1, wios: 2, dios: 0,
    });
    expect(stats.pressure).toBeUndefined();
  });

  test('v1 stats without kmem or memsw files skip them', async () => {
    await fs.unlink(`${fake.root}/${v1('memory')}/memory.kmem.usage_in_bytes`);
    await fs.unlink(`${fake.root}/${v1('memory')}/memory.memsw.usage_in_bytes`);
    const stats = await cgroup.stats();
    expect(stats.memory?.kernelUsage).toBeUndefined();
    expect(stats.memory?.swapUsage).toBeUndefined();
  });
});
