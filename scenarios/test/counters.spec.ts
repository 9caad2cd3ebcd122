import { expect, test } from '@playwright/test';
import { promises as fs } from 'node:fs';

import { openCgroup } from '../../engine/cgroup/index.js';
import { fakeHybrid, fakeUnified, type FakeCgroupFs } from '../../engine/cgroup/test/fakefs.js';
import { CgroupCounters } from '../framework/counters.js';

// CgroupCounters.open reads the host's mountinfo, so the tests call the
// private constructor with a cgroup opened on a fake cgroupfs.
async function openCounters(fake: FakeCgroupFs): Promise<CgroupCounters> {
  const cgroup = await openCgroup('isolab/victim', {
    root: fake.root, mountinfo: fake.mountinfo, system: fake.system,
  });
  await cgroup.create();
  return Reflect.construct(CgroupCounters, [cgroup]) as CgroupCounters;
}

test.describe('v2 counters', () => {
  const leaf = 'sys/fs/cgroup/isolab/victim';
  let fake: FakeCgroupFs;
  let counters: CgroupCounters;

  test.beforeEach(async () => {
    fake = await fakeUnified({ subtreeControl: 'cpu memory pids' });
    counters = await openCounters(fake);
  });

  test.afterEach(async () => {
    await fake.cleanup();
  });

  test('memory is served by v2', () => {
    expect(counters.version('memory')).toBe(2);
  });

  test('memoryCurrent reads memory.current', async () => {
    await fake.write(`${leaf}/memory.current`, '4325376\n');

    expect(await counters.memoryCurrent()).toBe(4325376);
  });

  test('memoryLimit max is Infinity', async () => {
    await fake.write(`${leaf}/memory.max`, 'max\n');

    expect(await counters.memoryLimit()).toBe(Infinity);
  });

  test('memoryLimit reads memory.max bytes', async () => {
    await fake.write(`${leaf}/memory.max`, '33554432\n');

    expect(await counters.memoryLimit()).toBe(33554432);
  });

  test('memoryPeak of missing file', async () => {
    await fs.unlink(`${fake.root}/${leaf}/memory.peak`);

    expect(await counters.memoryPeak()).toBeUndefined();
  });

  test('memoryStat parses key value lines', async () => {
    await fake.write(`${leaf}/memory.stat`, 'anon 1245184\nfile 3072000\n\nslab  675840\n');

    expect(await counters.memoryStat()).toEqual({ anon: 1245184, file: 3072000, slab: 675840 });
  });

  test('memoryEvents reads memory.events', async () => {
    await fake.write(`${leaf}/memory.events`,
      'low 0\nhigh 3\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n');
    const events = await counters.memoryEvents();

    expect(events.high).toBe(3);
    expect(events.max).toBe(12);
    expect(events.oom).toBe(1);
    expect(events.oom_kill).toBe(1);
  });

  test('kernelMemory is slab on v2', async () => {
    await fake.write(`${leaf}/memory.stat`, 'anon 4096\nkernel 999999\nslab 675840\n');

    expect(await counters.kernelMemory()).toBe(675840);
  });

  test('pids counters read pids files', async () => {
    await fake.write(`${leaf}/pids.current`, '17\n');
    await fake.write(`${leaf}/pids.events`, 'max 4\n');

    expect(await counters.pidsCurrent()).toBe(17);
    expect(await counters.pidsMaxEvents()).toBe(4);
  });

  test('keyed file missing is empty', async () => {
    expect(await counters.keyed('memory', 'memory.numa_stat')).toEqual({});
  });
});

test.describe('v1 counters', () => {
  const memory = 'sys/fs/cgroup/memory/isolab/victim';
  let fake: FakeCgroupFs;
  let counters: CgroupCounters;

  test.beforeEach(async () => {
    fake = await fakeHybrid();
    counters = await openCounters(fake);
  });

  test.afterEach(async () => {
    await fake.cleanup();
  });

  test('memory is served by v1', () => {
    expect(counters.version('memory')).toBe(1);
  });

  test('memoryCurrent reads usage_in_bytes', async () => {
    await fake.write(`${memory}/memory.usage_in_bytes`, '4325376\n');

    expect(await counters.memoryCurrent()).toBe(4325376);
  });

  test('memoryLimit near 2^63 is Infinity', async () => {
    await fake.write(`${memory}/memory.limit_in_bytes`, '9223372036854771712\n');

    expect(await counters.memoryLimit()).toBe(Infinity);
  });

  test('memoryLimit reads limit_in_bytes', async () => {
    await fake.write(`${memory}/memory.limit_in_bytes`, '33554432\n');

    expect(await counters.memoryLimit()).toBe(33554432);
  });

  test('memoryPeak reads max_usage_in_bytes', async () => {
    await fake.write(`${memory}/memory.max_usage_in_bytes`, '6000000\n');

    expect(await counters.memoryPeak()).toBe(6000000);
  });

  test('memoryEvents from failcnt and oom_control', async () => {
    await fake.write(`${memory}/memory.failcnt`, '12\n');
    await fake.write(`${memory}/memory.oom_control`,
      'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');

    expect(await counters.memoryEvents()).toEqual({ max: 12, oom_kill: 2 });
  });

  test('memoryEvents without oom_kill line', async () => {
    await fake.write(`${memory}/memory.failcnt`, '0\n');
    await fake.write(`${memory}/memory.oom_control`, 'oom_kill_disable 0\nunder_oom 0\n');

    expect(await counters.memoryEvents()).toEqual({ max: 0 });
  });

  test('kernelMemory reads kmem usage', async () => {
    await fake.write(`${memory}/memory.kmem.usage_in_bytes`, '675840\n');

    expect(await counters.kernelMemory()).toBe(675840);
  });

  test('pidsMaxEvents reads v1 pids.events', async () => {
    await fake.write('sys/fs/cgroup/pids/isolab/victim/pids.events', 'max 9\n');

    expect(await counters.pidsMaxEvents()).toBe(9);
  });
});

test('counters without the controller', async () => {
  const fake = await fakeUnified({ controllers: ['cpu'], subtreeControl: 'cpu' });
  try {
    const counters = await openCounters(fake);

    expect(counters.version('memory')).toBeUndefined();
    expect(await counters.memoryCurrent()).toBeUndefined();
    expect(await counters.memoryStat()).toEqual({});
  } finally {
    await fake.cleanup();
  }
});
