import { expect, test } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { parseSpec } from '../validate.js';
import { baseConfig, expectRejected, makeBundle, type Bundle } from './helpers.js';

let bundle: Bundle;
test.beforeEach(() => {
  bundle = makeBundle();
});
test.afterEach(() => bundle.remove());

function withUserns(config: Record<string, any>): Record<string, any> {
  config.linux.namespaces.push({ type: 'user' });
  config.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  config.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  return config;
}

test('uid maps overlapping in container', () => {
  const config = withUserns(baseConfig());
  config.linux.uidMappings = [
    { containerID: 0, hostID: 100000, size: 1000 },
    { containerID: 500, hostID: 300000, size: 10 },
  ];
  const err = expectRejected(config, bundle.dir, 'linux.uidMappings[1]',
    'container IDs 500-509 overlap linux.uidMappings[0] (container IDs 0-999)');
  expect(err.kind).toBe('invalid-input');
});

test('gid maps overlapping on host', () => {
  const config = withUserns(baseConfig());
  config.linux.gidMappings = [
    { containerID: 0, hostID: 100000, size: 1000 },
    { containerID: 5000, hostID: 100999, size: 10 },
  ];
  expectRejected(config, bundle.dir, 'linux.gidMappings[1]',
    'host IDs 100999-101008 overlap linux.gidMappings[0] (host IDs 100000-100999)');
});

test('adjacent id maps are accepted', () => {
  const config = withUserns(baseConfig());
  config.linux.uidMappings = [
    { containerID: 0, hostID: 100000, size: 1000 },
    { containerID: 1000, hostID: 101000, size: 1000 },
  ];
  expect(() => parseSpec(JSON.stringify(config), bundle.dir)).not.toThrow();
});

test('unparseable id maps are rejected', () => {
  const cases: Array<[string, unknown, string]> = [
    ['linux.uidMappings', { containerID: 0 }, 'must be a JSON array'],
    ['linux.uidMappings[0]', ['0 100000 65536'], 'must be a JSON object'],
    ['linux.uidMappings[0].size', [{ containerID: 0, hostID: 1 }], 'required field is missing'],
    ['linux.uidMappings[0].size', [{ containerID: 0, hostID: 1, size: 0 }], 'from 1'],
    ['linux.uidMappings[0].hostID', [{ containerID: 0, hostID: '1', size: 1 }], 'integer'],
    ['linux.uidMappings[0].containerID', [{ containerID: -1, hostID: 1, size: 1 }], 'from 0'],
    ['linux.uidMappings[0]', [{ containerID: 0, hostID: 4294967290, size: 10 }], 'exceed'],
  ];
  for (const [field, mappings, reason] of cases) {
    const config = withUserns(baseConfig());
    config.linux.uidMappings = mappings;
    expectRejected(config, bundle.dir, field, reason);
  }
});

test('id maps need userns, root, user', () => {
  const config = baseConfig();
  config.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 10 }];
  expectRejected(config, bundle.dir, 'linux.uidMappings', 'need a user namespace');

  const noGid = withUserns(baseConfig());
  delete noGid.linux.gidMappings;
  expectRejected(noGid, bundle.dir, 'linux.gidMappings', 'needs uid and gid mappings');

  const noRoot = withUserns(baseConfig());
  noRoot.linux.uidMappings = [{ containerID: 1, hostID: 100000, size: 10 }];
  expectRejected(noRoot, bundle.dir, 'linux.uidMappings', 'must map container uid 0');

  const unmapped = withUserns(baseConfig());
  unmapped.process.user.uid = 70000;
  expectRejected(unmapped, bundle.dir, 'process.user.uid', 'is not mapped by linux.uidMappings');
});

test('namespace types are checked and listed once', () => {
  const config = baseConfig();
  config.linux.namespaces.push({ type: 'pid' });
  expectRejected(config, bundle.dir, 'linux.namespaces[6].type', 'is listed twice');

  config.linux.namespaces[6] = { type: 'net' };
  expectRejected(config, bundle.dir, 'linux.namespaces[6].type', 'is not a namespace type');
});

test('namespace path of another type is rejected', () => {
  const config = baseConfig();
  config.linux.namespaces[0] = { type: 'pid', path: '/proc/self/ns/net' };
  expectRejected(config, bundle.dir, 'linux.namespaces[0].path',
    'is a net namespace, not a pid namespace');
});

test('namespace path to plain file', () => {
  const file = path.join(bundle.dir, 'net:[4026531840]');
  writeFileSync(file, '');
  const config = baseConfig();
  config.linux.namespaces[1] = { type: 'network', path: file };
  expectRejected(config, bundle.dir, 'linux.namespaces[1].path', 'is not a namespace file');

  config.linux.namespaces[1] = { type: 'network', path: '/nonexistent/ns' };
  expectRejected(config, bundle.dir, 'linux.namespaces[1].path', 'cannot be opened (ENOENT)');
});

test('namespace path of right type', () => {
  const config = baseConfig();
  config.linux.namespaces[1] = { type: 'network', path: '/proc/self/ns/net' };
  config.linux.namespaces[2] = { type: 'ipc', path: '/proc/self/ns/ipc' };
  const spec = parseSpec(JSON.stringify(config), bundle.dir);
  expect(spec.linux?.namespaces?.[1]?.path).toBe('/proc/self/ns/net');
});

test('hostname without a uts namespace is rejected', () => {
  const config = baseConfig();
  config.linux.namespaces = config.linux.namespaces.filter((ns: any) => ns.type !== 'uts');
  expectRejected(config, bundle.dir, 'hostname', 'needs a uts namespace');

  delete config.hostname;
  expect(() => parseSpec(JSON.stringify(config), bundle.dir)).not.toThrow();
});

test('sysctls outside a namespace are rejected', () => {
  const config = baseConfig();
  config.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1000' };
  expect(() => parseSpec(JSON.stringify(config), bundle.dir)).not.toThrow();

  config.linux.sysctl = { 'vm.overcommit_memory': '1' };
  expectRejected(config, bundle.dir, 'linux.sysctl.vm.overcommit_memory', 'change the host');

  config.linux.sysctl = { 'net/ipv4/../x': '1' };
  expectRejected(config, bundle.dir, 'linux.sysctl.net/ipv4/../x', 'dotted sysctl name');
});

test('time offsets need a new time namespace', () => {
  const config = baseConfig();
  config.linux.timeOffsets = { monotonic: { secs: 86400, nanosecs: 0 } };
  expectRejected(config, bundle.dir, 'linux.timeOffsets', 'need a new time namespace');

  config.linux.namespaces.push({ type: 'time' });
  expect(() => parseSpec(JSON.stringify(config), bundle.dir)).not.toThrow();

  config.linux.timeOffsets = { realtime: { secs: 1 } };
  expectRejected(config, bundle.dir, 'linux.timeOffsets.realtime', 'unknown field');
});

test('mounts without a mount namespace are rejected', () => {
  const config = baseConfig();
  config.linux.namespaces = config.linux.namespaces.filter((ns: any) => ns.type !== 'mount');
  expectRejected(config, bundle.dir, 'mounts', 'needs a mount namespace');

  config.mounts = [];
  config.linux.maskedPaths = [];
  config.linux.readonlyPaths = [];
  config.root = { path: '/' };
  expect(() => parseSpec(JSON.stringify(config), bundle.dir)).not.toThrow();
});

test('host root needs overlay or read-only', () => {
  const config = baseConfig();
  config.root = { path: '/' };
  expectRejected(config, bundle.dir, 'root.path', 'isolab.rootfs=overlay');

  config.annotations = { 'isolab.rootfs': 'overlay' };
  expect(() => parseSpec(JSON.stringify(config), bundle.dir)).not.toThrow();
});

test('isolab annotations are checked', () => {
  const config = baseConfig();
  config.annotations = { 'isolab.rootfs': 'copy' };
  expectRejected(config, bundle.dir, 'annotations.isolab.rootfs', 'must be one of bind, overlay');

  config.annotations = { 'isolab.netwrok': 'bridge' };
  expectRejected(config, bundle.dir, 'annotations.isolab.netwrok', 'unknown isolab annotation');

  config.annotations = { 'isolab.ip': 5 };
  expectRejected(config, bundle.dir, 'annotations.isolab.ip', 'must be a string');

  config.annotations = { 'isolab.network': 'none', 'org.example.other': 'x' };
  expect(() => parseSpec(JSON.stringify(config), bundle.dir)).not.toThrow();
});

test('bind mounts need an existing source', () => {
  const config = baseConfig();
  config.mounts.push({ destination: '/data', type: 'bind', source: 'data', options: ['rbind'] });
  expectRejected(config, bundle.dir, 'mounts[7].source', 'does not exist');

  config.mounts[7].source = 'rootfs';
  const spec = parseSpec(JSON.stringify(config), bundle.dir);
  expect(spec.mounts?.[7]?.source).toBe(bundle.rootfs);
});

test('sysctls in joined host namespaces', () => {
  const config = baseConfig();
  config.linux.namespaces[1] = { type: 'network', path: '/proc/self/ns/net' };
  config.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
  expectRejected(config, bundle.dir, 'linux.sysctl.net.ipv4.ip_forward', 'would change the host');

  config.linux.sysctl = { 'kernel.hostname': 'x' };
  expectRejected(config, bundle.dir, 'linux.sysctl.kernel.hostname', 'set hostname instead');
});
