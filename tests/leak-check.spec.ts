// Runs after every other project: nothing this test run made may remain on
// the host. The run's objects are found from the state roots its fixtures
// recorded, so other isolab users of the machine do not fail the check.
import { test, expect } from '@playwright/test';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { cgroupParentFor } from '../engine/state.js';
import { StateStore } from '../engine/state.js';
import { bridgeName, filterTableName, hostVethName } from '../engine/network/names.js';
import { repoRoot, TEST_CAP_PREFIX, TEST_IDS_FILE, TEST_ROOTS_FILE } from './engine/fixtures.js';

const CGROUP_ROOT = '/sys/fs/cgroup';

async function linesOf(file: string): Promise<string[]> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return [...new Set(text.split('\n').filter(Boolean))];
}

const testRoots = () => linesOf(TEST_ROOTS_FILE);

async function leftoverCgroups(parents: Set<string>): Promise<string[]> {
  const found: string[] = [];
  for (const hierarchy of await fs.readdir(CGROUP_ROOT)) {
    const entries = await fs.readdir(path.join(CGROUP_ROOT, hierarchy), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.isDirectory() && (parents.has(entry.name) || entry.name.startsWith(TEST_CAP_PREFIX))) {
        found.push(path.join(CGROUP_ROOT, hierarchy, entry.name));
      }
    }
  }
  return found;
}

test('test run recorded its state roots', async () => {
  expect((await testRoots()).length).toBeGreaterThan(0);
});

test('no isolab cgroup remains', async () => {
  const parents = new Set((await testRoots()).map(cgroupParentFor));
  expect(await leftoverCgroups(parents)).toEqual([]);
});

test('no isolab mount remains', async () => {
  const mountinfo = await fs.readFile('/proc/self/mountinfo', 'utf8');
  expect(mountinfo.split('\n').filter((line) => line.includes('isolab'))).toEqual([]);
});

test('no isolab network namespace remains', async () => {
  const names = await fs.readdir('/run/netns').catch(() => []);
  expect(names.filter((name) => name.startsWith('isolab'))).toEqual([]);
});

test('no isolab bridge, veth or nftables table remains', async () => {
  const stores = (await testRoots()).map((root) => new StateStore(root));
  const bridges = new Set(stores.map(bridgeName));
  // A veth's name hashes its root and container id, so the run's own veths are every pair's name.
  const ids = await linesOf(TEST_IDS_FILE);
  const veths = new Set(stores.flatMap((store) => ids.map((id) => hostVethName(store, id))));
  const links = JSON.parse(execFileSync('ip', ['-json', 'link', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string }>;
  expect(links.map((l) => l.ifname).filter((name) => bridges.has(name) || veths.has(name))).toEqual([]);
  const prefixes = stores.map(filterTableName);
  const tables = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).split('\n');
  expect(tables.filter((t) => prefixes.some((p) => t.split(' ')[2]?.startsWith(p)))).toEqual([]);
});

test('no isolab process remains', async () => {
  const helper = path.join(repoRoot, 'native/build/isolab-runtime');
  const parents = (await testRoots()).map(cgroupParentFor);
  const found: string[] = [];
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const exe = await fs.readlink(`/proc/${name}/exe`).catch(() => '');
    const cgroup = await fs.readFile(`/proc/${name}/cgroup`, 'utf8').catch(() => '');
    const inTestCgroup = parents.some((p) => cgroup.includes(`:/${p}/`)) || cgroup.includes(`:/${TEST_CAP_PREFIX}`);
    if (exe === helper || inTestCgroup) found.push(`${name} ${exe}`);
  }
  expect(found).toEqual([]);
});

test('no test state directory remains', async () => {
  const left: string[] = [];
  for (const root of await testRoots()) {
    if (await fs.access(root).then(() => true, () => false)) left.push(root);
  }
  expect(left).toEqual([]);
});
