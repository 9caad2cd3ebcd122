import { promises as fs } from 'node:fs';

import { expect, test } from '@playwright/test';

import { IsolabError } from '../../errors.js';
import type { LinuxResources } from '../../spec/oci.js';
import { detectLayout, openCgroup, type Cgroup } from '../index.js';
import { fakeHybrid, v1Unlimited, type FakeCgroupFs } from './fakefs.js';

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

async function rejection(resources: LinuxResources): Promise<IsolabError> {
  const error = await cgroup.apply(resources).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(IsolabError);
  return error as IsolabError;
}

test('memory limit goes to memory.limit_in_bytes', async () => {
  await cgroup.apply({ memory: { limit: 33554432 } });
  expect(await fake.read(`${v1('memory')}/memory.limit_in_bytes`)).toBe('33554432');
});

test('memory limit -1 also lifts the memsw limit', async () => {
  await fake.write(`${v1('memory')}/memory.limit_in_bytes`, '1048576');
  await fake.write(`${v1('memory')}/memory.memsw.limit_in_bytes`, '1048576');
  await cgroup.apply({ memory: { limit: -1 } });
  expect(await fake.read(`${v1('memory')}/memory.limit_in_bytes`)).toBe('-1');
  expect(await fake.read(`${v1('memory')}/memory.memsw.limit_in_bytes`)).toBe('-1');
});

test('memory limit 0 is written as 0', async () => {
  await cgroup.apply({ memory: { limit: 0 } });
  expect(await fake.read(`${v1('memory')}/memory.limit_in_bytes`)).toBe('0');
});

test('negative memory limit is rejected', async () => {
  const error = await rejection({ memory: { limit: -5 } });
  expect(error.message).toBe('could not accept linux.resources.memory.limit `-5`: ' +
    'must be a byte count of 0 or more, or -1 for unlimited');
});

test('swap goes to memory.memsw.limit_in_bytes unchanged', async () => {
  await cgroup.apply({ memory: { limit: 33554432, swap: 67108864 } });
  expect(await fake.read(`${v1('memory')}/memory.memsw.limit_in_bytes`)).toBe('67108864');
  expect(await fake.read(`${v1('memory')}/memory.limit_in_bytes`)).toBe('33554432');
});

test('swap without memsw file is unsupported', async () => {
  await fs.unlink(`${fake.root}/${v1('memory')}/memory.memsw.limit_in_bytes`);
  const error = await rejection({ memory: { limit: 33554432, swap: 67108864 } });
  expect(error.kind).toBe('unsupported');
  expect(error.message).toContain('swapaccount=1');
});

test('swap -1 without memsw file is skipped', async () => {
  await fs.unlink(`${fake.root}/${v1('memory')}/memory.memsw.limit_in_bytes`);
  await cgroup.apply({ memory: { limit: 33554432, swap: -1 } });
  expect(await fake.read(`${v1('memory')}/memory.limit_in_bytes`)).toBe('33554432');
});

test('reservation and swappiness go to their v1 files', async () => {
  await cgroup.apply({ memory: { reservation: 16777216, swappiness: 0 } });
  expect(await fake.read(`${v1('memory')}/memory.soft_limit_in_bytes`)).toBe('16777216');
  expect(await fake.read(`${v1('memory')}/memory.swappiness`)).toBe('0');
});

test('swappiness above 100 is rejected', async () => {
  const error = await rejection({ memory: { swappiness: 101 } });
  expect(error.message).toContain('linux.resources.memory.swappiness `101`');
});

test('disableOOMKiller writes memory.oom_control', async () => {
  await cgroup.apply({ memory: { disableOOMKiller: true } });
  expect(await fake.read(`${v1('memory')}/memory.oom_control`)).toBe('1');
});

for (const key of ['memory.high', 'memory.min', 'pids.max']) {
  test(`unified ${key} is unsupported on v1`, async () => {
    const error = await rejection({ unified: { [key]: '1048576' } });
    expect(error.kind).toBe('unsupported');
    expect(error.message).toContain(`\`${key}\``);
  });
}

test('pids limit 0 writes max', async () => {
  await cgroup.apply({ pids: { limit: 0 } });
  expect(await fake.read(`${v1('pids')}/pids.max`)).toBe('max');
});

test('cpu shares, period and quota go to v1 files', async () => {
  await cgroup.apply({ cpu: { shares: 512, quota: 20000 } });
  expect(await fake.read(`${v1('cpu')}/cpu.shares`)).toBe('512');
  expect(await fake.read(`${v1('cpu')}/cpu.cfs_period_us`)).toBe('100000');
  expect(await fake.read(`${v1('cpu')}/cpu.cfs_quota_us`)).toBe('20000');
});

test('cpu quota -1 writes -1', async () => {
  await cgroup.apply({ cpu: { quota: -1, period: 50000 } });
  expect(await fake.read(`${v1('cpu')}/cpu.cfs_quota_us`)).toBe('-1');
  expect(await fake.read(`${v1('cpu')}/cpu.cfs_period_us`)).toBe('50000');
});

test('new cpuset cgroups copy cpus and mems from the parent', async () => {
  expect(await fake.read('sys/fs/cgroup/cpuset/isolab/cpuset.cpus')).toBe('0-3');
  expect(await fake.read(`${v1('cpuset')}/cpuset.cpus`)).toBe('0-3');
  expect(await fake.read(`${v1('cpuset')}/cpuset.mems`)).toBe('0');
});

test('cpus override the inherited cpuset', async () => {
  await cgroup.apply({ cpu: { cpus: '1' } });
  expect(await fake.read(`${v1('cpuset')}/cpuset.cpus`)).toBe('1');
});

test('blkio weight without a weight file is unsupported', async () => {
  const error = await rejection({ blockIO: { weight: 500 } });
  expect(error.kind).toBe('unsupported');
  expect(error.message).toContain('blkio.weight');
});

test('blkio weight goes to blkio.weight when present', async () => {
  await fake.write(`${v1('blkio')}/blkio.weight`, '500');
  await cgroup.apply({ blockIO: { weight: 300 } });
  expect(await fake.read(`${v1('blkio')}/blkio.weight`)).toBe('300');
});

test('throttle devices go to blkio.throttle files', async () => {
  await cgroup.apply({
    blockIO: { throttleWriteBpsDevice: [{ major: 254, minor: 0, rate: 2097152 }] },
  });
  expect(await fake.read(`${v1('blkio')}/blkio.throttle.write_bps_device`)).toBe('254:0 2097152');
});

test('missing controller is unsupported naming the section', async () => {
  const detected = await detectLayout({ root: fake.root, mountinfo: fake.mountinfo });
  detected.controllers.delete('pids');
  const noPids = await openCgroup('isolab/web1', { layout: detected, system: fake.system });
  const error = await noPids.apply({ pids: { limit: 10 } }).catch((e: unknown) => e);
  expect((error as IsolabError).kind).toBe('unsupported');
  expect((error as IsolabError).message).toContain('linux.resources.pids');
  expect((error as IsolabError).message).toContain('the pids controller is not available');
});

test('v1 default limit reads back as unlimited', async () => {
  expect(await fake.read(`${v1('memory')}/memory.limit_in_bytes`)).toBe(v1Unlimited);
  const stats = await cgroup.stats();
  expect(stats.memory?.limit).toBeNull();
});
