// Runs after every other project: nothing the tests made may remain on the host.
import { test, expect } from '@playwright/test';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const CGROUP_ROOT = '/sys/fs/cgroup';

async function isolabCgroups(): Promise<string[]> {
  const found: string[] = [];
  for (const hierarchy of await fs.readdir(CGROUP_ROOT)) {
    const dir = path.join(CGROUP_ROOT, hierarchy);
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.isDirectory() && entry.name.startsWith('isolab')) found.push(path.join(dir, entry.name));
    }
  }
  return found;
}

async function isolabProcesses(): Promise<string[]> {
  const found: string[] = [];
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const exe = await fs.readlink(`/proc/${name}/exe`).catch(() => '');
    const cgroup = await fs.readFile(`/proc/${name}/cgroup`, 'utf8').catch(() => '');
    if (exe.endsWith('/isolab-runtime') || /:\/isolab/.test(cgroup)) found.push(`${name} ${exe}`);
  }
  return found;
}

test('no isolab cgroup remains', async () => {
  expect(await isolabCgroups()).toEqual([]);
});

test('no isolab mount remains', async () => {
  const mountinfo = await fs.readFile('/proc/self/mountinfo', 'utf8');
  expect(mountinfo.split('\n').filter((line) => line.includes('isolab'))).toEqual([]);
});

test('no isolab network namespace remains', async () => {
  const names = await fs.readdir('/run/netns').catch(() => []);
  expect(names.filter((name) => name.startsWith('isolab'))).toEqual([]);
});

test('no isolab network link or nftables table remains', async () => {
  const links = JSON.parse(execFileSync('ip', ['-json', 'link', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string }>;
  expect(links.map((l) => l.ifname).filter((name) => /^(isl|isolab)/.test(name))).toEqual([]);
  const tables = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).split('\n');
  expect(tables.filter((t) => t.includes('isolab'))).toEqual([]);
});

test('no isolab process remains', async () => {
  expect(await isolabProcesses()).toEqual([]);
});

test('no test state directory remains', async () => {
  const names = await fs.readdir('/run');
  expect(names.filter((name) => name.startsWith('isolab-test-'))).toEqual([]);
});
