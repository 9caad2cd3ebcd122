import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { defaultSpec } from '../generate.js';
import { buildCreatePlan } from '../plan.js';
import { overlayDirs, prepareOverlayDirs } from '../rootfs.js';
import { parseSpec } from '../validate.js';
import { makeBundle, type Bundle } from './helpers.js';

let bundle: Bundle;
test.beforeEach(() => {
  bundle = makeBundle();
});
test.afterEach(() => bundle.remove());

test('default spec matches runc spec', () => {
  execFileSync('runc', ['spec'], { cwd: bundle.dir });
  const runc = JSON.parse(readFileSync(path.join(bundle.dir, 'config.json'), 'utf8'));

  runc.process.terminal = false;
  delete runc.process.capabilities.ambient;
  runc.linux.namespaces.push({ type: 'cgroup' });
  expect(defaultSpec()).toEqual(runc);
});

test('default spec is accepted by the parser', () => {
  for (const userns of [false, true]) {
    const spec = parseSpec(JSON.stringify(defaultSpec({ userns })), bundle.dir);
    expect(spec.root?.path).toBe(bundle.rootfs);
  }
});

test('userns option adds id mappings', () => {
  const spec = defaultSpec({ userns: true, rootfs: '/tmp/x' });
  expect(spec.root?.path).toBe('/tmp/x');
  expect(spec.linux?.namespaces?.map((ns) => ns.type)).toContain('user');
  expect(spec.linux?.uidMappings).toEqual([{ containerID: 0, hostID: 100000, size: 65536 }]);
  expect(spec.linux?.gidMappings).toEqual([{ containerID: 0, hostID: 100000, size: 65536 }]);

  const plan = buildCreatePlan(parseSpec(JSON.stringify(spec).replace('/tmp/x', 'rootfs'),
    bundle.dir), { stateDir: '/s', execFifo: '/s/f', cgroupLayout: { unified: true, v1: [],
    hybrid: false } });
  expect(plan).toContainEqual({ directive: 'ns', kind: 'user' });
});

test('overlay dirs belong to the mapped root', async () => {
  const spec = defaultSpec({ userns: true });
  spec.annotations = { 'isolab.rootfs': 'overlay' };
  const dirs = await prepareOverlayDirs(bundle.dir, spec);
  expect(dirs).toEqual(overlayDirs(bundle.dir));
  for (const dir of [dirs.rootfs, dirs.upper, dirs.work]) {
    const stat = statSync(dir);
    expect(stat.isDirectory()).toBe(true);
    expect(stat.uid).toBe(100000);
    expect(stat.gid).toBe(100000);
  }
  expect(statSync(dirs.work).mode & 0o777).toBe(0o700);
});
