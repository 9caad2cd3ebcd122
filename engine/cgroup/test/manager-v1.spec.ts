import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect, test } from '@playwright/test';

import { IsolabError } from '../../errors.js';
import { openCgroup, type Cgroup } from '../index.js';
import { coMountedMountinfo, fakeHybrid, type FakeCgroupFs } from './fakefs.js';

let fake: FakeCgroupFs;
let cgroup: Cgroup;
const used = ['memory', 'pids', 'cpu', 'cpuacct', 'cpuset', 'blkio', 'freezer', 'devices'];
const v1 = (controller: string): string => `sys/fs/cgroup/${controller}/isolab/web1`;

test.beforeEach(async () => {
  fake = await fakeHybrid();
  cgroup = await openCgroup('isolab/web1', {
    root: fake.root, mountinfo: fake.mountinfo, system: fake.system,
  });
});

test.afterEach(async () => {
  await fake.cleanup();
});

test('create makes the path in each used hierarchy only', async () => {
  await cgroup.create();
  for (const controller of used) expect(await fake.exists(v1(controller))).toBe(true);
  expect(await fake.exists('sys/fs/cgroup/unified/isolab')).toBe(false);
  expect(cgroup.createdPaths).toEqual(['isolab', 'isolab/web1']);
});

test('create makes new memory cgroups hierarchical', async () => {
  await cgroup.create();
  expect(await fake.read('sys/fs/cgroup/memory/isolab/memory.use_hierarchy')).toBe('1');
  expect(await fake.read(`${v1('memory')}/memory.use_hierarchy`)).toBe('1');
});

test('create leaves an existing memory cgroup alone', async () => {
  await fake.system.makeDir?.(join(fake.root, 'sys/fs/cgroup/memory/isolab'));
  await cgroup.create();
  expect(await fake.read('sys/fs/cgroup/memory/isolab/memory.use_hierarchy')).toBe('0');
  expect(await fake.read(`${v1('memory')}/memory.use_hierarchy`)).toBe('1');
});

test('create denies devices but the defaults', async () => {
  await cgroup.create();
  // The fake records the last write to each file, as the kernel's files do not.
  expect(await fake.read('sys/fs/cgroup/devices/isolab/web1/devices.deny')).toBe('a');
  expect(await fake.read('sys/fs/cgroup/devices/isolab/web1/devices.allow')).toBe('c 136:* rwm');
  expect(cgroup.controlsDevices).toBe(true);
});

test('addProcess writes cgroup.procs in every used hierarchy', async () => {
  await cgroup.create();
  await cgroup.addProcess(4242);
  for (const controller of used) {
    expect(await fake.read(`${v1(controller)}/cgroup.procs`)).toBe('4242');
  }
});

test('addProcess explains ENOSPC from an empty cpuset', async () => {
  await cgroup.create();

  // Writes to /dev/full fail with ENOSPC, as cgroup.procs of an empty v1 cpuset does.
  const procs = join(fake.root, v1('cpuset'), 'cgroup.procs');
  await fs.unlink(procs);
  await fs.symlink('/dev/full', procs);
  const error = await cgroup.addProcess(4242).catch((e: unknown) => e);
  expect((error as IsolabError).code).toBe('ENOSPC');
  expect((error as IsolabError).message).toContain('cpuset.cpus or cpuset.mems');
  expect((error as IsolabError).message).toContain('4242');
});

test('pids is the union over hierarchies', async () => {
  await cgroup.create();
  await fake.write(`${v1('memory')}/cgroup.procs`, '5\n9\n');
  await fake.write(`${v1('pids')}/cgroup.procs`, '9\n12\n');
  expect(await cgroup.pids()).toEqual([5, 9, 12]);
});

test('dirOf maps io to blkio and v2Dir is undefined', async () => {
  expect(cgroup.dirOf('io')).toBe(join(fake.root, v1('blkio')));
  expect(cgroup.dirOf('cpu')).toBe(join(fake.root, v1('cpu')));
  expect(cgroup.v2Dir()).toBeUndefined();
});

test('freeze writes FROZEN and thaw writes THAWED', async () => {
  await cgroup.create();
  await cgroup.freeze();
  expect(await fake.read(`${v1('freezer')}/freezer.state`)).toBe('FROZEN');
  expect(await cgroup.isFrozen()).toBe(true);
  await cgroup.thaw();
  expect(await fake.read(`${v1('freezer')}/freezer.state`)).toBe('THAWED');
  expect(await cgroup.isFrozen()).toBe(false);
});

test('killAll freezes, signals each pid, then thaws', async () => {
  await cgroup.create();
  for (const controller of used) {
    await fake.write(`${v1(controller)}/cgroup.procs`, '101\n102\n');
  }
  const stateAtKill: string[] = [];
  fake.onKill(() => {
    stateAtKill.push(readFileSync(join(fake.root, v1('freezer'), 'freezer.state'), 'utf8'));
  });
  await cgroup.killAll(2000);
  expect(fake.killed).toEqual([101, 102]);
  expect(stateAtKill).toEqual(['FROZEN', 'FROZEN']);
  expect(await fake.read(`${v1('freezer')}/freezer.state`)).toBe('THAWED');
  expect(await cgroup.pids()).toEqual([]);
});

test('destroy removes every hierarchy and created ancestors', async () => {
  await cgroup.create();
  await cgroup.destroy();
  for (const controller of used) {
    expect(await fake.exists(`sys/fs/cgroup/${controller}/isolab`)).toBe(false);
  }
});

test('destroy keeps a shared ancestor', async () => {
  await cgroup.create();
  const sibling = await openCgroup('isolab/web2', {
    root: fake.root, mountinfo: fake.mountinfo, system: fake.system,
  });
  await sibling.create();
  await cgroup.destroy();
  expect(await fake.exists(v1('memory'))).toBe(false);
  expect(await fake.exists('sys/fs/cgroup/memory/isolab/web2')).toBe(true);
  await sibling.destroy();
  expect(await fake.exists('sys/fs/cgroup/memory/isolab')).toBe(true);
});

test('protectionWarnings reports a v1 reservation', async () => {
  await cgroup.create();
  expect(await cgroup.protectionWarnings()).toEqual([]);
  await cgroup.apply({ memory: { reservation: 16777216 } });
  const warnings = await cgroup.protectionWarnings();
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toContain('cgroup v1 has no memory.low or memory.min');
  expect(warnings[0]).toContain('16777216 bytes');
});

test('co-mounted cpu,cpuacct gets one directory', async () => {
  await fake.write('mountinfo', coMountedMountinfo);
  for (const name of ['cpu,cpuacct', 'memory', 'pids']) {
    await fs.mkdir(join(fake.root, 'sys/fs/cgroup', name), { recursive: true });
  }
  const createdDirs: string[] = [];
  const coMounted = await openCgroup('isolab/web1', {
    root: fake.root,
    mountinfo: fake.mountinfo,
    system: {
      makeDir: async (dir) => {
        createdDirs.push(dir);
        await fs.mkdir(dir);
      },
    },
  });
  await coMounted.create();
  const leaves = createdDirs.filter((dir) => dir.endsWith('/web1'))
    .map((dir) => dir.slice(fake.root.length));
  expect(leaves.sort()).toEqual([
    '/sys/fs/cgroup/cpu,cpuacct/isolab/web1',
    '/sys/fs/cgroup/memory/isolab/web1',
    '/sys/fs/cgroup/pids/isolab/web1',
    '/sys/fs/cgroup/unified/isolab/web1',
  ]);

  // This host has no v1 freezer, so freezing falls back to cgroup2.
  expect(coMounted.controllers.get('freezer')).toBe(2);
  expect(coMounted.dirOf('cpu')).toBe(join(fake.root, 'sys/fs/cgroup/cpu,cpuacct/isolab/web1'));
});

test.describe('mixed layout', () => {
  test.beforeEach(async () => {
    await fake.write('sys/fs/cgroup/unified/cgroup.controllers', 'memory pids\n');
    cgroup = await openCgroup('isolab/web1', {
      root: fake.root, mountinfo: fake.mountinfo, system: fake.system,
    });
  });

  test('memory and pids go to cgroup2, cpu to v1', async () => {
    expect(Object.fromEntries(cgroup.controllers)).toEqual({
      memory: 2, pids: 2, cpu: 1, cpuset: 1, io: 1, freezer: 1,
    });
    await cgroup.create();
    await cgroup.apply({ memory: { limit: 33554432 }, pids: { limit: 10 }, cpu: { shares: 512 } });
    expect(await fake.read('sys/fs/cgroup/unified/isolab/web1/memory.max')).toBe('33554432');
    expect(await fake.read('sys/fs/cgroup/unified/isolab/web1/pids.max')).toBe('10');
    expect(await fake.read(`${v1('cpu')}/cpu.shares`)).toBe('512');
    expect(await fake.exists('sys/fs/cgroup/memory/isolab')).toBe(false);
    expect(cgroup.v2Dir()).toBe(join(fake.root, 'sys/fs/cgroup/unified/isolab/web1'));
  });

  test('v2 part gets the device filter beside v1 devices', async () => {
    // An exec on this layout is cloned into the v2 cgroup only, so the filter must be there too.
    expect(cgroup.controlsDevices).toBe(true);
    expect(cgroup.deviceFilterDir?.()).toBe(join(fake.root, 'sys/fs/cgroup/unified/isolab/web1'));
  });

  test('a bad v1 value stops the v2 writes too', async () => {
    await cgroup.create();
    const error = await cgroup.apply({ memory: { limit: 33554432 }, cpu: { shares: 1 } })
      .catch((e: unknown) => e);
    expect((error as IsolabError).message).toContain('linux.resources.cpu.shares');
    expect(await fake.read('sys/fs/cgroup/unified/isolab/web1/memory.max')).toBe('max');
  });

  test('addProcess and destroy cover both versions', async () => {
    await cgroup.create();
    await cgroup.addProcess(4242);
    expect(await fake.read('sys/fs/cgroup/unified/isolab/web1/cgroup.procs')).toBe('4242');
    expect(await fake.read(`${v1('freezer')}/cgroup.procs`)).toBe('4242');
    await fake.write('sys/fs/cgroup/unified/isolab/web1/cgroup.procs', '');
    for (const controller of ['cpu', 'cpuacct', 'cpuset', 'blkio', 'freezer']) {
      await fake.write(`${v1(controller)}/cgroup.procs`, '');
    }
    await fake.write(`${v1('devices')}/cgroup.procs`, '');
    await cgroup.destroy();
    expect(await fake.exists('sys/fs/cgroup/unified/isolab')).toBe(false);
    expect(await fake.exists('sys/fs/cgroup/cpu/isolab')).toBe(false);
  });
});

test('create can leave devices unrestricted', async () => {
  await cgroup.create({ restrictDevices: false });
  expect(await fake.exists('sys/fs/cgroup/devices/isolab/web1')).toBe(true);
  expect(await fake.exists('sys/fs/cgroup/devices/isolab/web1/devices.deny')).toBe(false);
});
