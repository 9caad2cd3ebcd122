import { expect, test } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { capabilityMask, capabilityNames } from '../caps.js';
import { readCgroupMountLayout, type CgroupMountLayout } from '../cgroupmount.js';
import { MS, parseMountOptions } from '../mountopts.js';
import { buildCreatePlan, buildExecPlan } from '../plan.js';
import { defaultDeviceRuleSteps } from '../../cgroup/devices.js';
import {
  escapeField,
  parsePlanLines,
  serializePlan,
  unescapeField,
  type PlanStep,
} from '../steps.js';
import { parseSpec } from '../validate.js';
import { baseConfig, makeBundle, type Bundle } from './helpers.js';

let bundle: Bundle;
test.beforeEach(() => {
  bundle = makeBundle();
});
test.afterEach(() => bundle.remove());

const V2_LAYOUT: CgroupMountLayout = { unified: true, v1: [], hybrid: false };
const CTX = { stateDir: '/run/isolab/c1', execFifo: '/run/isolab/c1/exec.fifo',
  cgroupLayout: V2_LAYOUT };

function planFor(config: Record<string, any>, extra: object = {}): PlanStep[] {
  return buildCreatePlan(parseSpec(JSON.stringify(config), bundle.dir), { ...CTX, ...extra });
}

function directives(steps: PlanStep[]): string[] {
  return steps.map((step) => step.directive);
}

test('plan field escaping round-trips', () => {
  const fields = ['plain', 'tab\there', 'new\nline', 'back\\slash', '\\t literal', '', '\t\n\\'];
  for (const field of fields) expect(unescapeField(escapeField(field))).toBe(field);
  expect(escapeField('a\tb\nc\\d')).toBe('a\\tb\\nc\\\\d');
  expect(() => unescapeField('bad\\x')).toThrow(/invalid escape/);
});

test('serialized plan parses back', () => {
  const steps: PlanStep[] = [
    { directive: 'env', entry: 'X=a\tb\nc\\' },
    { directive: 'arg', value: '' },
    { directive: 'mount', source: '/src dir', dest: '/dst\tx', fstype: 'bind',
      flags: MS.BIND | MS.REC | MS.RDONLY, propagation: 0, data: '' },
    { directive: 'pivot' },
  ];
  const text = serializePlan(steps);
  expect(text.split('\n').length).toBe(steps.length + 1);
  expect(parsePlanLines(text)).toEqual([
    ['env', 'X=a\tb\nc\\'],
    ['arg', ''],
    ['mount', '/src dir', '/dst\tx', 'bind', '0x5001', '0x0', ''],
    ['pivot'],
  ]);
});

test('mount options become flags, propagation and data', () => {
  const devpts = parseMountOptions(
    ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'], 'o');
  expect(devpts.flags).toBe(MS.NOSUID | MS.NOEXEC);
  expect(devpts.data).toBe('newinstance,ptmxmode=0666,mode=0620,gid=5');
  expect(devpts.propagation).toBe(0);

  const tmpfs = parseMountOptions(['nosuid', 'strictatime', 'mode=755', 'size=65536k'], 'o');
  expect(tmpfs.flags).toBe(0x1000002);
  expect(tmpfs.data).toBe('mode=755,size=65536k');

  const bind = parseMountOptions(['rbind', 'ro', 'rslave', 'nodev'], 'o');
  expect(bind.flags).toBe(MS.BIND | MS.REC | MS.RDONLY | MS.NODEV);
  expect(bind.bind).toBe(true);
  expect(bind.recursive).toBe(true);
  expect(bind.propagation).toBe(MS.SLAVE | MS.REC);
});

test('clearing options undo earlier flags', () => {
  const cases: Array<[string[], number]> = [
    [['ro', 'rw'], 0],
    [['nosuid', 'suid'], 0],
    [['nodev', 'dev', 'noexec', 'exec'], 0],
    [['sync', 'async'], 0],
    [['noatime', 'atime', 'nodiratime', 'diratime'], 0],
    [['relatime', 'norelatime', 'strictatime', 'nostrictatime'], 0],
    [['mand', 'nomand', 'remount'], MS.REMOUNT],
    [['private'], 0],
    [['acl', 'noacl', 'iversion', 'noiversion', 'nosymfollow', 'symfollow'], 0],
    [['acl', 'iversion', 'nosymfollow'], MS.POSIXACL | MS.I_VERSION | MS.NOSYMFOLLOW],
  ];
  for (const [options, flags] of cases) expect(parseMountOptions(options, 'o').flags).toBe(flags);
  expect(parseMountOptions(['unbindable'], 'o').propagation).toBe(MS.UNBINDABLE);
  expect(parseMountOptions(['rshared'], 'o').propagation).toBe(0x104000);
});

test('capability masks use kernel bit numbers', () => {
  expect(capabilityMask(['CAP_KILL'])).toBe(1n << 5n);
  expect(capabilityMask(['CAP_NET_BIND_SERVICE'])).toBe(1n << 10n);
  expect(capabilityMask(['CAP_AUDIT_WRITE'])).toBe(1n << 29n);
  const defaults = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  expect(capabilityMask(defaults)).toBe(0x20000420n);
  expect(capabilityMask(['CAP_CHECKPOINT_RESTORE'])).toBe(1n << 40n);
  expect(capabilityNames(0x20000420n)).toEqual([
    'CAP_KILL',
    'CAP_NET_BIND_SERVICE',
    'CAP_AUDIT_WRITE',
  ]);
});

test('create plan in protocol order', () => {
  const steps = planFor(baseConfig(), { oomFile: '/sys/fs/cgroup/x/memory.events' });
  const order = directives(steps);
  const first = (name: string): number => order.indexOf(name);

  expect(steps[0]).toEqual({ directive: 'state_dir', path: CTX.stateDir });
  expect(order.filter((d) => d === 'ns')).toHaveLength(6);
  expect(steps).toContainEqual({ directive: 'rootfs', path: bundle.rootfs });
  expect(steps).toContainEqual({ directive: 'rootfs_propagation', mode: 'rprivate' });
  expect(first('rootfs')).toBeLessThan(first('mount'));
  expect(order.lastIndexOf('mount')).toBeLessThan(first('device'));
  expect(order.lastIndexOf('symlink')).toBeLessThan(first('pivot'));
  expect(first('pivot')).toBeLessThan(first('mask'));
  expect(order.lastIndexOf('readonly')).toBeLessThan(first('root_readonly'));
  expect(first('root_readonly')).toBeLessThan(first('hostname'));
  expect(order.slice(-4)).toEqual(['env', 'arg', 'exec_fifo', 'oom_file']);
});

test('create plan adds minimal dev', () => {
  const steps = planFor(baseConfig());
  const devices = steps.filter((s) => s.directive === 'device');
  const names = devices.map((d) => d.directive === 'device' && `${d.path} ${d.major}:${d.minor}`);
  expect(names).toEqual([
    '/dev/null 1:3', '/dev/zero 1:5', '/dev/full 1:7', '/dev/random 1:8', '/dev/urandom 1:9',
    '/dev/tty 5:0',
  ]);
  expect(devices.every((d) => d.directive === 'device' && d.mode === 0o666)).toBe(true);
  const symlink = (target: string, linkpath: string) =>
    ({ directive: 'symlink', target, linkpath });
  expect(steps).toContainEqual(symlink('pts/ptmx', '/dev/ptmx'));
  expect(steps).toContainEqual(symlink('/proc/self/fd', '/dev/fd'));

  const withDevtmpfs = baseConfig();
  withDevtmpfs.mounts[1] = { destination: '/dev', type: 'devtmpfs', source: 'devtmpfs' };
  expect(directives(planFor(withDevtmpfs))).not.toContain('device');
});

test('create plan mounts match the spec mounts', () => {
  const steps = planFor(baseConfig());
  const mounts = steps.filter((s) => s.directive === 'mount');
  expect(mounts.map((m) => m.directive === 'mount' && m.dest)).toEqual([
    '/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup',
  ]);
  expect(mounts[1]).toEqual({ directive: 'mount', source: 'tmpfs', dest: '/dev', fstype: 'tmpfs',
    flags: MS.NOSUID | MS.STRICTATIME, propagation: 0, data: 'mode=755,size=65536k' });
  expect(mounts[6]).toMatchObject({ fstype: 'cgroup2', source: 'cgroup2',
    flags: MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RELATIME | MS.RDONLY });
  const text = serializePlan(steps);
  expect(text).toContain('mount\ttmpfs\t/dev\ttmpfs\t0x1000002\t0x0\tmode=755,size=65536k\n');
});

test('cgroup mount on v1 host', () => {
  const layout: CgroupMountLayout = {
    unified: false,
    hybrid: true,
    v1: [{ name: 'cpu,cpuacct', data: 'cpu,cpuacct' }, { name: 'memory', data: 'memory' },
      { name: 'systemd', data: 'none,name=systemd' }],
  };
  const steps = planFor(baseConfig(), { cgroupLayout: layout });
  const cgroupSteps = steps.filter((s) => 'dest' in s && s.dest.startsWith('/sys/fs/cgroup'));
  expect(cgroupSteps.map((s) => s.directive === 'mount' && `${s.dest} ${s.fstype} ${s.data}`))
    .toEqual([
      '/sys/fs/cgroup tmpfs mode=755', '/sys/fs/cgroup/cpu,cpuacct cgroup cpu,cpuacct',
      '/sys/fs/cgroup/memory cgroup memory', '/sys/fs/cgroup/systemd cgroup none,name=systemd',
      '/sys/fs/cgroup/unified cgroup2 ',
    ]);
  expect(cgroupSteps[0]).toMatchObject({ flags: MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RELATIME });
  expect(steps).toContainEqual({ directive: 'symlink', target: 'cpu,cpuacct',
    linkpath: '/sys/fs/cgroup/cpuacct' });
  expect(steps).toContainEqual({ directive: 'readonly', path: '/sys/fs/cgroup' });
});

test('overlay layers under state dir', () => {
  const config = baseConfig();
  config.root = { path: '/' };
  config.annotations = { 'isolab.rootfs': 'overlay' };
  const steps = planFor(config);
  expect(steps).toContainEqual({ directive: 'rootfs', path: '/run/isolab/c1/rootfs' });
  expect(steps).toContainEqual({ directive: 'overlay', lowerdir: '/',
    upperdir: '/run/isolab/c1/upper', workdir: '/run/isolab/c1/work' });
  expect(directives(steps).indexOf('overlay')).toBe(directives(steps).indexOf('rootfs') + 1);
});

test('bind mounts plan fstype bind with MS_BIND', () => {
  const config = baseConfig();
  config.mounts.push({ destination: '/w', type: 'bind', source: 'rootfs', options: ['ro'] });
  const mount = planFor(config).find((s) => s.directive === 'mount' && s.dest === '/w');
  expect(mount).toEqual({ directive: 'mount', source: bundle.rootfs, dest: '/w', fstype: 'bind',
    flags: MS.BIND | MS.RDONLY, propagation: 0, data: '' });
});

test('process steps carry ids, rlimits and caps', () => {
  const config = baseConfig();
  config.process.user = { uid: 1000, gid: 1000, additionalGids: [5, 10], umask: 0o077 };
  config.process.oomScoreAdj = 500;
  config.process.capabilities.ambient = ['CAP_KILL'];
  config.process.capabilities.inheritable = ['CAP_KILL'];
  config.process.capabilities.permitted.push('CAP_NET_RAW');
  config.process.capabilities.ambient.push('CAP_NET_RAW');
  config.process.rlimits.push({ type: 'RLIMIT_CORE', soft: 0, hard: 18446744073709551615 });
  const steps = planFor(config);

  const user = { directive: 'user', uid: 1000, gid: 1000, additionalGids: [5, 10] };
  expect(steps).toContainEqual(user);
  expect(steps).toContainEqual({ directive: 'umask', mask: 0o077 });
  expect(steps).toContainEqual({ directive: 'oom_score_adj', value: 500 });
  expect(steps).toContainEqual({ directive: 'rlimit', type: 'RLIMIT_CORE', resource: 4, soft: 0,
    hard: -1 });
  const caps = steps.find((s) => s.directive === 'caps');
  expect(caps).toMatchObject({ bounding: 0x20000420n, effective: 0x20000420n,
    permitted: 0x20002420n, inheritable: 0x20n, ambient: 0x20n,
    ambientNotRaised: ['CAP_NET_RAW'] });

  const text = serializePlan(steps);
  expect(text).toContain('caps\t0x20000420\t0x20000420\t0x20002420\t0x20\t0x20\n');
  expect(text).toContain('user\t1000\t1000\t5,10\n');
  expect(text).toContain('umask\t077\n');
  expect(text).toContain('rlimit\t7\t1024\t1024\n');
  expect(text).toContain('device\t/dev/null\tc\t1\t3\t0666\t0\t0\n');
});

test('exec plan joins the chosen namespaces', () => {
  const process = baseConfig().process;
  process.args = ['ps', 'aux'];
  const steps = buildExecPlan(process, { targetPid: 4242, namespaces: ['pid', 'mount', 'network'],
    cgroupDir: '/sys/fs/cgroup/isolab/c1' });
  expect(steps.slice(0, 5)).toEqual([
    { directive: 'target_pid', pid: 4242 },
    { directive: 'join', kind: 'pid' },
    { directive: 'join', kind: 'mnt' },
    { directive: 'join', kind: 'net' },
    { directive: 'cgroup_dir', path: '/sys/fs/cgroup/isolab/c1' },
  ]);
  expect(directives(steps)).not.toContain('exec_fifo');
  expect(steps.filter((s) => s.directive === 'arg')).toHaveLength(2);
});

test('exec plan rejects an invalid process', () => {
  const process = baseConfig().process;
  process.args = [];
  expect(() => buildExecPlan(process, { targetPid: 1, namespaces: [] }))
    .toThrow('could not accept process.args');
  process.args = ['sh'];
  expect(() => buildExecPlan(process, { targetPid: 0, namespaces: [] }))
    .toThrow('the target pid must be a positive integer');
});

test('cgroup layout is read from mountinfo', () => {
  const line = (id: number, point: string, type: string, options: string) =>
    `${id} 23 0:${id} / ${point} rw,relatime - ${type} ${type} ${options}`;
  const hybrid = [
    line(31, '/sys/fs/cgroup', 'tmpfs', 'rw,mode=755'),
    line(32, '/sys/fs/cgroup/cpu,cpuacct', 'cgroup', 'rw,cpu,cpuacct'),
    line(35, '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'),
    line(40, '/sys/fs/cgroup/systemd', 'cgroup', 'rw,xattr,name=systemd'),
    line(41, '/sys/fs/cgroup/unified', 'cgroup2', 'rw,nsdelegate'),
  ].join('\n');
  const file = path.join(bundle.dir, 'mountinfo');
  writeFileSync(file, hybrid);
  expect(readCgroupMountLayout(file)).toEqual({
    unified: false,
    hybrid: true,
    v1: [
      { name: 'cpu,cpuacct', data: 'cpu,cpuacct' },
      { name: 'memory', data: 'memory' },
      { name: 'systemd', data: 'none,name=systemd' },
    ],
  });

  writeFileSync(file, line(30, '/sys/fs/cgroup', 'cgroup2', 'rw,nsdelegate'));
  expect(readCgroupMountLayout(file)).toEqual({ unified: true, hybrid: false, v1: [] });
});

test('absent capabilities drop every set', () => {
  const config = baseConfig();
  delete config.process.capabilities;
  const caps = planFor(config).find((s) => s.directive === 'caps');
  expect(caps).toEqual({ directive: 'caps', bounding: 0n, effective: 0n, permitted: 0n,
    inheritable: 0n, ambient: 0n, ambientNotRaised: [] });
});

test('create plan ends with the device filter', () => {
  const rules = defaultDeviceRuleSteps();
  const steps = planFor(baseConfig(), { deviceFilter: '/sys/fs/cgroup/isolab/c1', deviceRules: rules });
  const text = serializePlan(steps);

  expect(steps.slice(-rules.length - 1)).toEqual([{ directive: 'device_filter', path: '/sys/fs/cgroup/isolab/c1' }, ...rules]);
  expect(text).toContain('device_filter\t/sys/fs/cgroup/isolab/c1\ndevice_rule\tdeny\ta\t-1\t-1\trwm\n');
  expect(text).toContain('device_rule\tallow\tc\t136\t-1\trwm\n');
  expect(text).toContain('device_rule\tallow\tb\t-1\t-1\tm\n');
});

test('create plan has no device filter by default', () => {
  expect(directives(planFor(baseConfig()))).not.toContain('device_filter');
});
