import { promises as fs } from 'node:fs';
import { join } from 'node:path';

import { expect, test } from '@playwright/test';

import { IsolabError } from '../../errors.js';
import { detectLayout, openCgroup, parseMountinfo } from '../index.js';
import {
  coMountedMountinfo, fakeHybrid, fakeUnified, type FakeCgroupFs,
} from './fakefs.js';

let fake: FakeCgroupFs | undefined;

test.afterEach(async () => {
  await fake?.cleanup();
  fake = undefined;
});

test('parseMountinfo reads mount point, type and super options', () => {
  const entries = parseMountinfo(coMountedMountinfo);
  const cpu = entries.find((entry) => entry.mountPoint === '/sys/fs/cgroup/cpu,cpuacct');
  expect(cpu?.fsType).toBe('cgroup');
  expect(cpu?.superOptions).toEqual(['rw', 'cpu', 'cpuacct']);
  expect(entries.find((entry) => entry.fsType === 'cgroup2')?.mountPoint)
    .toBe('/sys/fs/cgroup/unified');
});

test('parseMountinfo decodes octal escapes', () => {
  const [entry] = parseMountinfo('40 31 0:37 / /mnt/my\\040cgroups rw - cgroup cgroup rw,pids');
  expect(entry?.mountPoint).toBe('/mnt/my cgroups');
});

test('hybrid host with empty cgroup2 puts every controller on v1', async () => {
  fake = await fakeHybrid();
  const layout = await detectLayout({ root: fake.root, mountinfo: fake.mountinfo });
  expect(layout.mode).toBe('hybrid');
  expect(layout.unified?.controllers).toEqual([]);
  expect(Object.fromEntries(layout.controllers)).toEqual({
    memory: 1, pids: 1, cpu: 1, cpuset: 1, io: 1, freezer: 1,
  });
  const names = layout.legacy.flatMap((h) => h.controllers).sort();
  expect(names).toEqual(['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory',
    'pids']);
});

test('name=systemd hierarchy is ignored', async () => {
  fake = await fakeHybrid();
  const layout = await detectLayout({ root: fake.root, mountinfo: fake.mountinfo });
  const mounts = layout.legacy.map((h) => h.mountPoint);
  expect(mounts).not.toContain(join(fake.root, 'sys/fs/cgroup/systemd'));
});

test('co-mounted cpu,cpuacct is one hierarchy', async () => {
  const layout = await detectLayoutFrom(coMountedMountinfo, '');
  const cpu = layout.legacy.find((h) => h.controllers.includes('cpu'));
  expect(cpu?.controllers).toEqual(['cpu', 'cpuacct']);
  expect(layout.controllers.get('cpu')).toBe(1);
  expect(layout.controllers.has('io')).toBe(false);
});

test('pure v2 host puts listed controllers on v2', async () => {
  fake = await fakeUnified({ controllers: ['cpu', 'memory', 'pids'] });
  const layout = await detectLayout({ root: fake.root, mountinfo: fake.mountinfo });
  expect(layout.mode).toBe('unified');
  expect(Object.fromEntries(layout.controllers)).toEqual({
    memory: 2, pids: 2, cpu: 2, freezer: 2,
  });
});

test('controller listed in cgroup2 wins over v1 hierarchy', async () => {
  fake = await fakeHybrid();
  await fake.write('sys/fs/cgroup/unified/cgroup.controllers', 'memory pids\n');
  const layout = await detectLayout({ root: fake.root, mountinfo: fake.mountinfo });
  expect(layout.controllers.get('memory')).toBe(2);
  expect(layout.controllers.get('pids')).toBe(2);
  expect(layout.controllers.get('cpu')).toBe(1);
  expect(layout.controllers.get('freezer')).toBe(1);
});

test('mode v1 ignores cgroup2 and mode v2 ignores v1', async () => {
  fake = await fakeHybrid();
  await fake.write('sys/fs/cgroup/unified/cgroup.controllers', 'memory pids\n');
  const v1 = await detectLayout({ root: fake.root, mountinfo: fake.mountinfo, mode: 'v1' });
  expect(v1.controllers.get('memory')).toBe(1);
  expect(v1.unified).toBeUndefined();
  const v2 = await detectLayout({ root: fake.root, mountinfo: fake.mountinfo, mode: 'v2' });
  expect(Object.fromEntries(v2.controllers)).toEqual({ memory: 2, pids: 2, freezer: 2 });
});

test('mode v2 without cgroup2 mount is unsupported', async () => {
  const error = await detectLayoutFrom(coMountedMountinfo.split('\n')
    .filter((line) => !line.includes('cgroup2')).join('\n'), 'v2').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(IsolabError);
  expect((error as IsolabError).kind).toBe('unsupported');
  expect((error as IsolabError).message).toContain('no cgroup2 file system is mounted');
});

test('unknown layout mode is named in the error', async () => {
  fake = await fakeHybrid();
  const error = await openCgroup('isolab/web1', {
    root: fake.root, mountinfo: fake.mountinfo, layout: 'v3' as 'v1',
  }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(IsolabError);
  expect((error as IsolabError).message).toMatch(/^could not open cgroup with layout `v3`: /);
});

test('missing mountinfo file is not-found', async () => {
  const error = await detectLayout({ mountinfo: '/nonexistent/mountinfo' })
    .catch((e: unknown) => e);
  expect((error as IsolabError).kind).toBe('not-found');
  expect((error as IsolabError).message).toContain('/nonexistent/mountinfo');
});

test('no cgroup mounts leaves nothing to open', async () => {
  const error = await openCgroupFrom('31 23 0:28 / /sys rw - sysfs sysfs rw')
    .catch((e: unknown) => e);
  expect((error as IsolabError).kind).toBe('unsupported');
  expect((error as IsolabError).message).toContain('no cgroup controller is available');
});

for (const bad of ['', '/isolab/web1', '../escape', 'isolab/../..', 'isolab//web1', 'a/./b']) {
  test(`cgroup path ${JSON.stringify(bad)} is rejected`, async () => {
    fake = await fakeHybrid();
    const error = await openCgroup(bad, { root: fake.root, mountinfo: fake.mountinfo })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IsolabError);
    expect((error as IsolabError).kind).toBe('invalid-input');
    expect((error as IsolabError).op).toBe('open cgroup');
  });
}

test('trailing slash of cgroup path is dropped', async () => {
  fake = await fakeHybrid();
  const cgroup = await openCgroup('isolab/web1/', { root: fake.root, mountinfo: fake.mountinfo });
  expect(cgroup.path).toBe('isolab/web1');
});

async function detectLayoutFrom(mountinfo: string, mode: '' | 'v2') {
  const dir = await fs.mkdtemp('/tmp/isolab-mountinfo-');
  try {
    await fs.writeFile(join(dir, 'mountinfo'), mountinfo);
    return await detectLayout({
      root: dir, mountinfo: join(dir, 'mountinfo'), mode: mode || undefined,
    });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function openCgroupFrom(mountinfo: string) {
  const dir = await fs.mkdtemp('/tmp/isolab-mountinfo-');
  try {
    await fs.writeFile(join(dir, 'mountinfo'), mountinfo);
    return await openCgroup('isolab/web1', { root: dir, mountinfo: join(dir, 'mountinfo') });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
