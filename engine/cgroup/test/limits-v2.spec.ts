import { promises as fs } from 'node:fs';

import { expect, test } from '@playwright/test';

import { IsolabError } from '../../errors.js';
import type { LinuxResources } from '../../spec/oci.js';
import { openCgroup, type Cgroup } from '../index.js';
import { fakeUnified, type FakeCgroupFs } from './fakefs.js';

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

async function rejection(resources: LinuxResources): Promise<IsolabError> {
  const error = await cgroup.apply(resources).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(IsolabError);
  return error as IsolabError;
}

test('memory limit is written to memory.max', async () => {
  await cgroup.apply({ memory: { limit: 33554432 } });
  expect(await fake.read(`${leaf}/memory.max`)).toBe('33554432');
});

test('memory limit -1 writes max', async () => {
  await fake.write(`${leaf}/memory.max`, '1048576');
  await cgroup.apply({ memory: { limit: -1 } });
  expect(await fake.read(`${leaf}/memory.max`)).toBe('max');
});

test('memory limit 0 is written as 0', async () => {
  await cgroup.apply({ memory: { limit: 0 } });
  expect(await fake.read(`${leaf}/memory.max`)).toBe('0');
});

for (const bad of [-2, -1048576, 1.5, Number.NaN, '64M', 'max', null]) {
  test(`memory limit ${String(bad)} is rejected naming the field`, async () => {
    const error = await rejection({ memory: { limit: bad as number } });
    expect(error.kind).toBe('invalid-input');
    expect(error.message).toContain('linux.resources.memory.limit');
    expect(error.message).toContain(`\`${String(bad)}\``);
    expect(await fake.read(`${leaf}/memory.max`)).toBe('max');
  });
}

test('bad value writes nothing even for valid fields', async () => {
  await rejection({ memory: { limit: 1048576 }, pids: { limit: -7 } });
  expect(await fake.read(`${leaf}/memory.max`)).toBe('max');
  expect(await fake.read(`${leaf}/pids.max`)).toBe('max');
});

test('reservation goes to memory.low', async () => {
  await cgroup.apply({ memory: { reservation: 16777216 } });
  expect(await fake.read(`${leaf}/memory.low`)).toBe('16777216');
});

test('swap is memory plus swap, so memory.swap.max is the difference', async () => {
  await cgroup.apply({ memory: { limit: 33554432, swap: 50331648 } });
  expect(await fake.read(`${leaf}/memory.swap.max`)).toBe('16777216');
});

test('swap equal to the limit means no swap', async () => {
  await cgroup.apply({ memory: { limit: 33554432, swap: 33554432 } });
  expect(await fake.read(`${leaf}/memory.swap.max`)).toBe('0');
});

test('swap -1 writes max', async () => {
  await cgroup.apply({ memory: { limit: 33554432, swap: -1 } });
  expect(await fake.read(`${leaf}/memory.swap.max`)).toBe('max');
});

test('swap below the limit is rejected', async () => {
  const error = await rejection({ memory: { limit: 33554432, swap: 1048576 } });
  expect(error.message).toContain('linux.resources.memory.swap');
  expect(error.message).toContain('at least the memory limit');
});

test('swap without a limit is rejected on v2', async () => {
  const error = await rejection({ memory: { swap: 1048576 } });
  expect(error.message).toContain('needs linux.resources.memory.limit');
});

test('swap without swap accounting is unsupported', async () => {
  await fs.unlink(`${fake.root}/${leaf}/memory.swap.max`);
  const error = await rejection({ memory: { limit: 33554432, swap: 50331648 } });
  expect(error.kind).toBe('unsupported');
  expect(error.message).toContain('memory.swap.max does not exist');
});

test('swappiness is unsupported on v2', async () => {
  const error = await rejection({ memory: { swappiness: 10 } });
  expect(error.kind).toBe('unsupported');
  expect(error.message).toContain('linux.resources.memory.swappiness');
});

test('disableOOMKiller true is unsupported on v2', async () => {
  const error = await rejection({ memory: { disableOOMKiller: true } });
  expect(error.kind).toBe('unsupported');
});

test('unified memory.high and memory.min are written', async () => {
  await cgroup.apply({ unified: { 'memory.high': '25165824', 'memory.min': '8388608' } });
  expect(await fake.read(`${leaf}/memory.high`)).toBe('25165824');
  expect(await fake.read(`${leaf}/memory.min`)).toBe('8388608');
});

test('unified value -1 writes max', async () => {
  await fake.write(`${leaf}/memory.high`, '1048576');
  await cgroup.apply({ unified: { 'memory.high': '-1' } });
  expect(await fake.read(`${leaf}/memory.high`)).toBe('max');
});

test('unified cgroup.max.descendants is allowed', async () => {
  await cgroup.apply({ unified: { 'cgroup.max.descendants': '5' } });
  expect(await fake.read(`${leaf}/cgroup.max.descendants`)).toBe('5');
});

for (const key of ['cgroup.procs', 'cgroup.subtree_control', 'cgroup.kill', '../memory.max',
  'memory.max/x', 'memory']) {
  test(`unified key ${key} is rejected`, async () => {
    const error = await rejection({ unified: { [key]: '1' } });
    expect(error.kind).toBe('invalid-input');
    expect(error.message).toContain(`\`${key}\``);
  });
}

test('unified key the kernel lacks is unsupported', async () => {
  const error = await rejection({ unified: { 'hugetlb.2MB.max': '0' } });
  expect(error.kind).toBe('unsupported');
  expect(error.message).toContain('hugetlb.2MB.max');
});

for (const [limit, written] of [[10, '10'], [0, 'max'], [-1, 'max']] as const) {
  test(`pids limit ${limit} writes ${written}`, async () => {
    await cgroup.apply({ pids: { limit } });
    expect(await fake.read(`${leaf}/pids.max`)).toBe(written);
  });
}

test('pids limit -2 is rejected', async () => {
  const error = await rejection({ pids: { limit: -2 } });
  expect(error.message).toContain('linux.resources.pids.limit `-2`');
});

test('shares become cpu.weight', async () => {
  await cgroup.apply({ cpu: { shares: 1024 } });
  expect(await fake.read(`${leaf}/cpu.weight`)).toBe('100');
});

for (const shares of [1, 0, 262145, -1]) {
  test(`shares ${shares} is out of range`, async () => {
    const error = await rejection({ cpu: { shares } });
    expect(error.message).toContain(`linux.resources.cpu.shares \`${shares}\``);
    expect(error.message).toContain('from 2 to 262144');
  });
}

test('quota and period go to cpu.max', async () => {
  await cgroup.apply({ cpu: { quota: 20000, period: 50000 } });
  expect(await fake.read(`${leaf}/cpu.max`)).toBe('20000 50000');
});

test('quota without period uses period 100000', async () => {
  await cgroup.apply({ cpu: { quota: 20000 } });
  expect(await fake.read(`${leaf}/cpu.max`)).toBe('20000 100000');
});

test('quota -1 writes max', async () => {
  await cgroup.apply({ cpu: { quota: -1, period: 100000 } });
  expect(await fake.read(`${leaf}/cpu.max`)).toBe('max 100000');
});

test('period alone keeps the current quota', async () => {
  await fake.write(`${leaf}/cpu.max`, '30000 100000\n');
  await cgroup.apply({ cpu: { period: 200000 } });
  expect(await fake.read(`${leaf}/cpu.max`)).toBe('30000 200000');
});

test('quota under 1 ms is rejected', async () => {
  const error = await rejection({ cpu: { quota: 500 } });
  expect(error.message).toContain('linux.resources.cpu.quota `500`');
});

test('cpus and mems go to cpuset files', async () => {
  await cgroup.apply({ cpu: { cpus: '0-1', mems: '0' } });
  expect(await fake.read(`${leaf}/cpuset.cpus`)).toBe('0-1');
  expect(await fake.read(`${leaf}/cpuset.mems`)).toBe('0');
});

test('malformed cpu list is rejected', async () => {
  const error = await rejection({ cpu: { cpus: '0-a' } });
  expect(error.message).toContain('linux.resources.cpu.cpus `0-a`');
});

test('blkio weight converts to io.weight', async () => {
  await cgroup.apply({ blockIO: { weight: 500 } });
  expect(await fake.read(`${leaf}/io.weight`)).toBe('default 4950');
});

test('io weight prefers io.bfq.weight on the v1 scale', async () => {
  await fake.write(`${leaf}/io.bfq.weight`, 'default 100\n');
  await cgroup.apply({ blockIO: { weight: 500 } });
  expect(await fake.read(`${leaf}/io.bfq.weight`)).toBe('500');
});

for (const weight of [9, 1001, 0]) {
  test(`io weight ${weight} is rejected`, async () => {
    const error = await rejection({ blockIO: { weight } });
    expect(error.message).toContain(`linux.resources.blockIO.weight \`${weight}\``);
    expect(error.message).toContain('from 10 to 1000');
  });
}

test('throttle devices write one io.max line per device', async () => {
  await cgroup.apply({
    blockIO: {
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 0 }],
    },
  });
  expect(await fake.read(`${leaf}/io.max`)).toBe('8:0 rbps=1048576 wiops=max');
});

test('throttle device with negative rate is rejected', async () => {
  const error = await rejection({
    blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: -5 }] },
  });
  expect(error.message).toContain('throttleReadBpsDevice[0].rate `-5`');
});
