import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect, test } from '@playwright/test';

import { IsolabError } from '../../errors.js';
import { openCgroup, type Cgroup, type OpenOptions } from '../index.js';
import { fakeUnified, type FakeCgroupFs, type UnifiedOptions } from './fakefs.js';

let fake: FakeCgroupFs;
const root = 'sys/fs/cgroup';
const leaf = `${root}/isolab/web1`;

async function setup(options: UnifiedOptions = {}, extra: OpenOptions = {}): Promise<Cgroup> {
  fake = await fakeUnified(options);
  return openCgroup('isolab/web1', {
    root: fake.root, mountinfo: fake.mountinfo, system: fake.system, ...extra,
  });
}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (entry.isFile()) files[entry.name] = await fs.readFile(join(dir, entry.name), 'utf8');
  }
  return files;
}

test.afterEach(async () => {
  await fake.cleanup();
});

test('create enables controllers from the root down', async () => {
  const cgroup = await setup();
  await cgroup.create();
  expect(await fake.read(`${root}/cgroup.subtree_control`)).toBe('+memory +pids +cpu +cpuset +io');
  expect(await fake.read(`${root}/isolab/cgroup.subtree_control`))
    .toBe('+memory +pids +cpu +cpuset +io');
  expect(await fake.read(`${leaf}/cgroup.subtree_control`)).toBe('');
  expect(await fake.read(`${leaf}/cgroup.controllers`)).toBe('memory pids cpu cpuset io');
});

test('create writes nothing into a root that has the controllers', async () => {
  const cgroup = await setup({ subtreeControl: 'cpuset cpu io memory pids' });
  const before = await snapshot(join(fake.root, root));
  await cgroup.create();
  expect(await snapshot(join(fake.root, root))).toEqual(before);
});

test('create enables only missing controllers', async () => {
  const cgroup = await setup({ subtreeControl: 'cpu memory' });
  await cgroup.create();
  expect(await fake.read(`${root}/cgroup.subtree_control`)).toBe('+pids +cpuset +io');
});

test('create is idempotent and records created paths', async () => {
  const cgroup = await setup();
  await cgroup.create();
  await cgroup.create();
  expect(cgroup.createdPaths).toEqual(['isolab', 'isolab/web1']);
});

test('existing ancestor is not recorded as created', async () => {
  const cgroup = await setup({ subtreeControl: 'cpuset cpu io memory pids' });
  await fake.system.makeDir?.(join(fake.root, root, 'isolab'));
  await fake.write(`${root}/isolab/cgroup.subtree_control`, 'cpuset cpu io memory pids');
  await cgroup.create();
  expect(cgroup.createdPaths).toEqual(['isolab/web1']);
});

test('addProcess writes cgroup.procs and pids reads it', async () => {
  const cgroup = await setup();
  await cgroup.create();
  await cgroup.addProcess(4242);
  expect(await fake.read(`${leaf}/cgroup.procs`)).toBe('4242');
  await fake.write(`${leaf}/cgroup.procs`, '31\n7\n');
  expect(await cgroup.pids()).toEqual([7, 31]);
});

for (const pid of [0, -1, 1.5]) {
  test(`addProcess rejects pid ${pid}`, async () => {
    const cgroup = await setup();
    await cgroup.create();
    const error = await cgroup.addProcess(pid).catch((e: unknown) => e);
    expect((error as IsolabError).kind).toBe('invalid-input');
  });
}

test('addProcess before create names the missing cgroup', async () => {
  const cgroup = await setup();
  const error = await cgroup.addProcess(4242).catch((e: unknown) => e);
  expect((error as IsolabError).kind).toBe('not-found');
  expect((error as IsolabError).message).toContain('the cgroup does not exist');
});

test('v2Dir and dirOf point at the leaf', async () => {
  const cgroup = await setup();
  expect(cgroup.v2Dir()).toBe(join(fake.root, leaf));
  expect(cgroup.dirOf('memory')).toBe(join(fake.root, leaf));
  expect(cgroup.controllers.get('freezer')).toBe(2);
});

test('v2Dir is undefined without memory on v2', async () => {
  const cgroup = await setup({ controllers: ['cpu', 'pids'] });
  expect(cgroup.v2Dir()).toBeUndefined();
  expect(cgroup.dirOf('memory')).toBeUndefined();
});

test('freeze waits for frozen 1 in cgroup.events', async () => {
  const cgroup = await setup();
  await cgroup.create();
  const stop = fake.emulateV2Freezer(leaf);
  try {
    await cgroup.freeze();
    expect(await fake.read(`${leaf}/cgroup.freeze`)).toBe('1');
    expect(await cgroup.isFrozen()).toBe(true);
    await cgroup.thaw();
    expect(await cgroup.isFrozen()).toBe(false);
  } finally {
    stop();
  }
});

test('freeze that never settles times out and unfreezes', async () => {
  const cgroup = await setup();
  await cgroup.create();
  const { freezerV2 } = await import('../freezer.js');
  const error = await freezerV2.freeze(join(fake.root, leaf), 100).catch((e: unknown) => e);
  expect((error as IsolabError).kind).toBe('timeout');
  expect((error as IsolabError).message).toContain('frozen 0 in cgroup.events');
  expect(await fake.read(`${leaf}/cgroup.freeze`)).toBe('0');
});

test('killAll writes cgroup.kill and waits for the cgroup to empty', async () => {
  const cgroup = await setup();
  await cgroup.create();
  await fake.write(`${leaf}/cgroup.procs`, '101\n102\n');
  setTimeout(() => void fake.write(`${leaf}/cgroup.procs`, ''), 50);
  await cgroup.killAll(2000);
  expect(await fake.read(`${leaf}/cgroup.kill`)).toBe('1');
  expect(fake.killed).toEqual([]);
});

test('killAll without cgroup.kill freezes and signals each pid', async () => {
  const cgroup = await setup({ cgroupKill: false });
  await cgroup.create();
  await fake.write(`${leaf}/cgroup.procs`, '101\n102\n');
  const freezeAtKill: string[] = [];
  fake.onKill(() => {
    freezeAtKill.push(readFileSync(join(fake.root, leaf, 'cgroup.freeze'), 'utf8').trim());
  });
  const stop = fake.emulateV2Freezer(leaf);
  try {
    await cgroup.killAll(2000);
  } finally {
    stop();
  }
  expect(fake.killed).toEqual([101, 102]);
  expect(freezeAtKill).toEqual(['1', '1']);
  expect(await fake.read(`${leaf}/cgroup.freeze`)).toBe('0');
  expect(await cgroup.pids()).toEqual([]);
});

test('killAll times out naming the pids left', async () => {
  const cgroup = await setup({ cgroupKill: false });
  await cgroup.create();
  await fake.write(`${leaf}/cgroup.procs`, '101\n');
  fake.survive(101);
  const stop = fake.emulateV2Freezer(leaf);
  const error = await cgroup.killAll(300).catch((e: unknown) => e).finally(stop);
  expect((error as IsolabError).kind).toBe('timeout');
  expect((error as IsolabError).message).toContain('pids 101 were still there');
});

test('destroy removes the leaf and the ancestors it created', async () => {
  const cgroup = await setup();
  await cgroup.create();
  await cgroup.destroy();
  expect(await fake.exists(`${root}/isolab`)).toBe(false);
  expect(cgroup.createdPaths).toEqual([]);
  await cgroup.destroy();
});

test('destroy keeps an ancestor another cgroup still uses', async () => {
  const cgroup = await setup();
  await cgroup.create();
  const sibling = await openCgroup('isolab/web2', {
    root: fake.root, mountinfo: fake.mountinfo, system: fake.system,
  });
  await sibling.create();
  await cgroup.destroy();
  expect(await fake.exists(leaf)).toBe(false);
  expect(await fake.exists(`${root}/isolab/web2`)).toBe(true);
});

test('destroy keeps an ancestor the engine did not create', async () => {
  const cgroup = await setup({ subtreeControl: 'cpuset cpu io memory pids' });
  await fake.system.makeDir?.(join(fake.root, root, 'isolab'));
  await fake.write(`${root}/isolab/cgroup.subtree_control`, 'cpuset cpu io memory pids');
  await cgroup.create();
  await cgroup.destroy();
  expect(await fake.exists(leaf)).toBe(false);
  expect(await fake.exists(`${root}/isolab`)).toBe(true);
});

test('destroy removes ancestors listed in restored createdPaths', async () => {
  const first = await setup();
  await first.create();
  const reopened = await openCgroup('isolab/web1', {
    root: fake.root, mountinfo: fake.mountinfo, system: fake.system,
    createdPaths: first.createdPaths,
  });
  await reopened.destroy();
  expect(await fake.exists(`${root}/isolab`)).toBe(false);
});

test('destroy of a cgroup with processes is bad-state', async () => {
  const cgroup = await setup();
  await cgroup.create();
  await fake.write(`${leaf}/cgroup.procs`, '101\n');
  const error = await cgroup.destroy().catch((e: unknown) => e);
  expect((error as IsolabError).kind).toBe('bad-state');
  expect((error as IsolabError).code).toBe('EBUSY');
  expect(await fake.exists(leaf)).toBe(true);
});

test('reservation sets created ancestors memory.low to max', async () => {
  const cgroup = await setup();
  await cgroup.create();
  await cgroup.apply({ memory: { reservation: 16777216 } });
  expect(await fake.read(`${root}/isolab/memory.low`)).toBe('max');
  expect(await fake.read(`${root}/isolab/memory.min`)).toBe('0');
  expect(await cgroup.protectionWarnings()).toEqual([]);
});

test('unified memory.min sets created ancestors memory.min to max', async () => {
  const cgroup = await setup();
  await cgroup.create();
  await cgroup.apply({ unified: { 'memory.min': '8388608' } });
  expect(await fake.read(`${root}/isolab/memory.min`)).toBe('max');
  expect(await cgroup.protectionWarnings()).toEqual([]);
});

test('protectionWarnings names an ancestor below the child', async () => {
  const cgroup = await setup({ subtreeControl: 'cpuset cpu io memory pids' });
  await fake.system.makeDir?.(join(fake.root, root, 'isolab'));
  await fake.write(`${root}/isolab/cgroup.subtree_control`, 'cpuset cpu io memory pids');
  await fake.write(`${root}/isolab/memory.low`, '1048576');
  await cgroup.create();
  await cgroup.apply({ memory: { reservation: 16777216 } });
  expect(await fake.read(`${root}/isolab/memory.low`)).toBe('1048576');
  const warnings = await cgroup.protectionWarnings();
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toContain('memory.low of ancestor isolab (not created by the engine)');
  expect(warnings[0]).toContain('is 1048576, below the 16777216 of isolab/web1');
});

test('protectionWarnings is empty without protection', async () => {
  const cgroup = await setup();
  await cgroup.create();
  expect(await cgroup.protectionWarnings()).toEqual([]);
});

test('v2 restricts devices with its own directory', async () => {
  const cgroup = await setup();

  expect(cgroup.controlsDevices).toBe(true);
  expect(cgroup.deviceFilterDir?.()).toBe(join(fake.root, leaf));
});
