import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { findJsonError } from '../jsonpos.js';
import { loadBundle, parseProcess, parseSpec } from '../validate.js';
import { baseConfig, expectRejected, makeBundle, rejection, type Bundle } from './helpers.js';

let bundle: Bundle;
test.beforeEach(() => {
  bundle = makeBundle();
});
test.afterEach(() => bundle.remove());

function runcSpecText(dir: string): string {
  execFileSync('runc', ['spec'], { cwd: dir });
  return readFileSync(path.join(dir, 'config.json'), 'utf8');
}

test('runc spec accepted without terminal', () => {
  const config = JSON.parse(runcSpecText(bundle.dir));
  expect(config.process.terminal).toBe(true);
  config.process.terminal = false;
  writeFileSync(path.join(bundle.dir, 'config.json'), JSON.stringify(config));

  const spec = loadBundle(bundle.dir);
  expect(spec.root?.path).toBe(bundle.rootfs);
  expect(spec.process?.args).toEqual(['sh']);
  expect(spec.mounts?.length).toBe(7);
});

test('runc spec terminal rejected', () => {
  const err = expectRejected(runcSpecText(bundle.dir), bundle.dir, 'process.terminal',
    'not supported by isolab');
  expect(err.kind).toBe('unsupported');
});

test('malformed JSON reports line, column and position', () => {
  const cases: Array<[string, RegExp]> = [
    ['{"ociVersion": }', /line 1, column 16 \(position 15\), near "}"/],
    ['{\n  "ociVersion": "1.0.2",\n  "process": {\n}',
      /line 4, column 2 \(position 43\), at end of input/],
    ['{"a": 1,}', /position 8/],
    ['', /position 0\), at end of input/],
  ];
  for (const [text, pattern] of cases) {
    const err = rejection(text, bundle.dir);
    expect(err.op).toBe('parse');
    expect(err.message).toContain('could not parse `config.json`: invalid JSON at');
    expect(err.message).toMatch(pattern);
  }
});

test('unknown fields are rejected by dotted path', () => {
  const cases: Array<[string, (c: Record<string, any>) => void]> = [
    ['extra', (c) => { c.extra = 1; }],
    ['process.argv', (c) => { c.process.argv = ['sh']; }],
    ['process.user.name', (c) => { c.process.user.name = 'root'; }],
    ['linux.resources.memory.max', (c) => { c.linux.resources.memory = { max: 1 }; }],
    ['mounts[2].flags', (c) => { c.mounts[2].flags = 1; }],
    ['linux.namespaces[0].name', (c) => { c.linux.namespaces[0].name = 'x'; }],
    ['process.capabilities.all', (c) => { c.process.capabilities.all = []; }],
  ];
  for (const [field, change] of cases) {
    const config = baseConfig();
    change(config);
    const err = expectRejected(config, bundle.dir, field, 'unknown field');
    expect(err.kind).toBe('invalid-input');
  }
});

test('unsupported fields are rejected by name', () => {
  const cases: Array<[string, (c: Record<string, any>) => void]> = [
    ['linux.seccomp', (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW' }; }],
    ['process.apparmorProfile', (c) => { c.process.apparmorProfile = 'docker-default'; }],
    ['process.selinuxLabel', (c) => { c.process.selinuxLabel = 'system_u:system_r:x'; }],
    ['linux.mountLabel', (c) => { c.linux.mountLabel = 'system_u:object_r:x'; }],
    ['hooks', (c) => { c.hooks = { prestart: [{ path: '/bin/true' }] }; }],
    ['linux.devices', (c) => { c.linux.devices = [{ path: '/dev/fuse', type: 'c' }]; }],
    ['linux.intelRdt', (c) => { c.linux.intelRdt = { closID: 'x' }; }],
    ['linux.personality', (c) => { c.linux.personality = { domain: 'LINUX32' }; }],
    ['process.terminal', (c) => { c.process.terminal = true; }],
    ['process.consoleSize', (c) => { c.process.consoleSize = { height: 24, width: 80 }; }],
    ['process.ioPriority', (c) => { c.process.ioPriority = { class: 'IOPRIO_CLASS_BE' }; }],
    ['process.scheduler', (c) => { c.process.scheduler = { policy: 'SCHED_FIFO' }; }],
    ['process.execCPUAffinity', (c) => { c.process.execCPUAffinity = { initial: '0' }; }],
    ['linux.resources.hugepageLimits', (c) => {
      c.linux.resources.hugepageLimits = [{ pageSize: '2MB', limit: 1 }];
    }],
    ['linux.resources.rdma', (c) => { c.linux.resources.rdma = { mlx: { hcaHandles: 1 } }; }],
    ['linux.resources.network', (c) => { c.linux.resources.network = { classID: 1 }; }],
    ['linux.resources.memory.kernel', (c) => { c.linux.resources.memory = { kernel: 1 }; }],
    ['linux.resources.cpu.burst', (c) => { c.linux.resources.cpu = { burst: 1 }; }],
    ['mounts[0].uidMappings', (c) => {
      c.mounts[0].uidMappings = [{ containerID: 0, hostID: 1, size: 1 }];
    }],
    ['mounts[1].options[0]', (c) => { c.mounts[1].options = ['rro']; }],
  ];
  for (const [field, change] of cases) {
    const config = baseConfig();
    change(config);
    const err = expectRejected(config, bundle.dir, field, 'not supported by isolab');
    expect(err.kind).toBe('unsupported');
  }
});

test('device rules other than deny-all are rejected', () => {
  const config = baseConfig();
  config.linux.resources.devices = [{ allow: true, access: 'rwm' }];
  expectRejected(config, bundle.dir, 'linux.resources.devices', 'not supported by isolab');

  config.linux.resources.devices = [{ allow: false, access: 'rwm' }, { allow: true, type: 'c' }];
  expectRejected(config, bundle.dir, 'linux.resources.devices', 'not supported by isolab');

  config.linux.resources.devices = [{ allow: false, access: 'rwm' }];
  expect(() => parseSpec(JSON.stringify(config), bundle.dir)).not.toThrow();
});

test('empty unsupported fields are accepted', () => {
  const config = baseConfig();
  config.process.apparmorProfile = '';
  config.linux.devices = [];
  config.linux.seccomp = {};
  expect(() => parseSpec(JSON.stringify(config), bundle.dir)).not.toThrow();
});

test('negative and non-numeric limits are rejected', () => {
  const cases: Array<[string, (c: Record<string, any>) => void, string]> = [
    ['linux.resources.memory.limit', (c) => { c.linux.resources.memory = { limit: -2 }; },
      'or -1 for unlimited'],
    ['linux.resources.memory.limit', (c) => { c.linux.resources.memory = { limit: '1G' }; },
      'must be an integer'],
    ['linux.resources.memory.swap', (c) => { c.linux.resources.memory = { swap: 1.5 }; },
      'must be an integer'],
    ['linux.resources.pids.limit', (c) => { c.linux.resources.pids = { limit: -5 }; }, 'from 0'],
    ['linux.resources.cpu.quota', (c) => { c.linux.resources.cpu = { quota: -7 }; }, 'from 1000'],
    ['linux.resources.cpu.period', (c) => { c.linux.resources.cpu = { period: 9 }; }, 'from 1000'],
    ['linux.resources.cpu.shares', (c) => { c.linux.resources.cpu = { shares: 1 }; }, 'from 2'],
    ['linux.resources.cpu.cpus', (c) => { c.linux.resources.cpu = { cpus: '3-1' }; }, 'ranges'],
    ['linux.resources.blockIO.throttleReadBpsDevice[0].rate', (c) => {
      c.linux.resources.blockIO = { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: -1 }] };
    }, 'from 0'],
    ['process.rlimits[0].soft', (c) => { c.process.rlimits[0].soft = -1; }, 'from 0'],
    ['process.rlimits[0].hard', (c) => { c.process.rlimits[0].hard = 'unlimited'; }, 'integer'],
    ['process.rlimits[0]', (c) => { c.process.rlimits[0].soft = 2048; }, 'soft limit must not'],
    ['process.rlimits[0].type', (c) => { c.process.rlimits[0].type = 'RLIMIT_FOO'; },
      'is not an rlimit'],
    ['process.oomScoreAdj', (c) => { c.process.oomScoreAdj = 1001; }, 'from -1000 to 1000'],
    ['process.user.uid', (c) => { c.process.user.uid = -1; }, 'from 0'],
    ['linux.resources.unified.../x', (c) => { c.linux.resources.unified = { '../x': '1' }; },
      'cgroup file name'],
  ];
  for (const [field, change, reason] of cases) {
    const config = baseConfig();
    change(config);
    expectRejected(config, bundle.dir, field, reason);
  }
});

test('unlimited values and RLIM_INFINITY are accepted', () => {
  const config = baseConfig();
  config.linux.resources.memory = { limit: -1, swap: -1 };
  config.linux.resources.pids = { limit: -1 };
  config.linux.resources.cpu = { quota: -1, period: 100000 };
  const text = JSON.stringify(config).replace('"hard":1024', '"hard":18446744073709551615');
  expect(() => parseSpec(text, bundle.dir)).not.toThrow();
});

test('missing or file rootfs rejected', () => {
  const config = baseConfig();
  config.root.path = 'nonexistent';
  expectRejected(config, bundle.dir, 'root.path', 'does not exist');

  writeFileSync(path.join(bundle.dir, 'file'), '');
  config.root.path = 'file';
  expectRejected(config, bundle.dir, 'root.path', 'is not a directory');

  delete config.root;
  expectRejected(config, bundle.dir, 'root', 'required field is missing');
});

test('process args, cwd and env are checked', () => {
  const config = baseConfig();
  config.process.args = [];
  expectRejected(config, bundle.dir, 'process.args', 'must name the program to run');

  config.process.args = ['sh'];
  config.process.cwd = 'tmp';
  expectRejected(config, bundle.dir, 'process.cwd', 'must be an absolute path');

  config.process.cwd = '/';
  config.process.env = ['NOEQUALS'];
  expectRejected(config, bundle.dir, 'process.env[0]', 'KEY=VALUE');

  config.process.env = ['A=1\u0000'];
  expectRejected(config, bundle.dir, 'process.env[0]', 'NUL byte');
});

test('capabilities are checked by name and set', () => {
  const config = baseConfig();
  config.process.capabilities.bounding.push('CAP_FLY');
  expectRejected(config, bundle.dir, 'process.capabilities.bounding[3]', 'is not a capability');

  const other = baseConfig();
  other.process.capabilities.effective.push('CAP_SYS_ADMIN');
  expectRejected(other, bundle.dir, 'process.capabilities.effective', 'permitted set');
});

test('JSON error scanner agrees with V8 positions', () => {
  const texts = ['{"a":1', '{"a":1,}', '{"a" 1}', '[1,2', '{"a":"x\n"}', '{"a":1}x', '[01]',
    '{"a":"\\q"}', '{"a":tru}', '{"a":[1,]}', '  {"a": {"b": nul}}'];
  for (const text of texts) {
    let v8Position: number | undefined;
    try {
      JSON.parse(text);
    } catch (err) {
      const match = /at position (\d+)/.exec((err as Error).message);
      if (match) v8Position = Number(match[1]);
    }
    const found = findJsonError(text);
    expect(found, text).toBeDefined();
    if (v8Position !== undefined) expect(found?.position, text).toBe(v8Position);
  }
  expect(findJsonError('{"a": [1, 2.5e3, "\\u00e9", true, null]}')).toBeUndefined();
});

test('required fields are named when missing', () => {
  const config = baseConfig();
  delete config.process.cwd;
  const err = expectRejected(config, bundle.dir, 'process.cwd', 'required field is missing');
  expect(err.message).toBe('could not accept process.cwd: required field is missing');
});

test('exec process.json is parsed and checked', () => {
  const valid = { user: { uid: 0, gid: 0 }, args: ['ls'], cwd: '/' };
  expect(parseProcess(JSON.stringify(valid)).args).toEqual(['ls']);
  expect(() => parseProcess(JSON.stringify({ ...valid, tty: 1 })))
    .toThrow('could not accept process.tty `1`: unknown field');
  expect(() => parseProcess('{"args": ["ls"]')).toThrow('could not parse `process.json`');
});

test('bundle without config.json', () => {
  let caught: unknown;
  try {
    loadBundle(bundle.dir);
  } catch (err) {
    caught = err;
  }
  expect(caught).toMatchObject({ kind: 'not-found', op: 'read bundle config' });
  expect(String(caught)).toContain(`${bundle.dir}/config.json`);
});
