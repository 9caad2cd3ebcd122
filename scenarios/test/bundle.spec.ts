import { expect, test } from '@playwright/test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { buildSpec, IDLE_ARGS, lastJsonLine, writeBundle } from '../framework/bundle.js';

const rootfs = '/var/lib/isolab/rootfs';

test('buildSpec defaults to idle init', () => {
  const spec = buildSpec({ rootfs });

  expect(spec.root?.path).toBe(rootfs);
  expect(spec.process?.args).toEqual(IDLE_ARGS);
  expect(spec.process?.oomScoreAdj).toBe(0);
});

test('buildSpec puts workloads on PATH', () => {
  const env = buildSpec({ rootfs, env: ['SIZE=64'] }).process?.env ?? [];

  expect(env[0]).toMatch(/^PATH=\/w:/);
  expect(env).toContain('TERM=xterm');
  expect(env[env.length - 1]).toBe('SIZE=64');
});

test('buildSpec adds capabilities once', () => {
  const caps = buildSpec({ rootfs, extraCaps: ['CAP_KILL', 'CAP_SYS_ADMIN'] })
    .process?.capabilities;

  for (const set of [caps?.bounding, caps?.effective, caps?.permitted]) {
    expect(set?.filter((cap) => cap === 'CAP_KILL')).toHaveLength(1);
    expect(set).toContain('CAP_SYS_ADMIN');
  }
  expect(caps?.inheritable).toBeUndefined();
});

test('buildSpec joins listed namespace paths', () => {
  const spec = buildSpec({
    rootfs,
    namespaces: ['pid', 'network', 'mount'],
    joinPaths: { network: '/proc/123/ns/net' },
  });

  expect(spec.linux?.namespaces).toEqual([
    { type: 'pid' }, { type: 'network', path: '/proc/123/ns/net' }, { type: 'mount' },
  ]);
});

test('buildSpec drops hostname without uts', () => {
  expect(buildSpec({ rootfs, namespaces: ['pid', 'mount'] }).hostname).toBeUndefined();
});

test('buildSpec keeps hostname with uts', () => {
  expect(buildSpec({ rootfs }).hostname).toBe('runc');
});

test('buildSpec appends binds then mounts', () => {
  const extra = { destination: '/w', type: 'bind', source: '/build', options: ['rbind', 'ro'] };
  const mounts = buildSpec({ rootfs, writableBinds: { '/data': '/srv/data' }, mounts: [extra] })
    .mounts ?? [];

  expect(mounts[mounts.length - 2]).toEqual(
    { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'rw'] });
  expect(mounts[mounts.length - 1]).toEqual(extra);
});

test('buildSpec merges resources and limits', () => {
  const linux = buildSpec({
    rootfs,
    resources: { pids: { limit: 64 } },
    cgroupsPath: 'isolab-cap/victim',
    sysctl: { 'net.ipv4.ip_unprivileged_port_start': '0' },
    readonlyPaths: ['/proc/sysrq-trigger'],
  }).linux;

  expect(linux?.resources?.pids).toEqual({ limit: 64 });
  expect(linux?.resources?.devices).toEqual([{ allow: false, access: 'rwm' }]);
  expect(linux?.cgroupsPath).toBe('isolab-cap/victim');
  expect(linux?.sysctl).toEqual({ 'net.ipv4.ip_unprivileged_port_start': '0' });
  expect(linux?.readonlyPaths).toEqual(['/proc/sysrq-trigger']);
});

test('writeBundle writes the built spec', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'isolab-bundle-'));
  try {
    const bundle = await writeBundle(path.join(dir, 'victim'), { rootfs, args: ['spin'] });
    const written = JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8'));

    expect(bundle).toBe(path.join(dir, 'victim'));
    expect(written).toEqual(buildSpec({ rootfs, args: ['spin'] }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Cases as [name, workload output, expected object].
const jsonCases: Array<[string, string, unknown]> = [
  ['last object line', 'start\n{"ready":true}\n{"forks":64}\n', { forks: 64 }],
  ['truncated last line', '{"forks":12}\n{"forks":6', { forks: 12 }],
  ['indented line', 'log\n   {"ready":true}   \nmore log\n', { ready: true }],
  ['no object line', 'ready\n[1,2]\n', undefined],
  ['empty output', '', undefined],
];

for (const [name, stdout, expected] of jsonCases) {
  test(`lastJsonLine of ${name}`, () => {
    expect(lastJsonLine(stdout)).toEqual(expected);
  });
}
