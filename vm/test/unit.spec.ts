// vm/ pieces that need no VM: names, results, console classification, facts, cpio.
import { test, expect } from '@playwright/test';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { IsolabError } from '../../engine/errors.js';
import { parseKernelFacts } from '../facts.js';
import { encodeCpio } from '../initramfs/cpio.js';
import { parseKernelRequest } from '../kernels/catalog.js';
import { systemMirror } from '../kernels/apt.js';
import { classifyLine } from '../qemu/watchdog.js';
import { commandLine, describeResult, exitStatusOf } from '../result.js';
import type { RunResult } from '../types.js';

function result(fields: Partial<RunResult>): RunResult {
  return {
    command: 'x', reason: 'exit', exitCode: 0, signal: null, timedOut: false,
    stdout: '', stderr: '', durationMs: 1000, warnings: [], ...fields,
  };
}

test('unknown kernel name lists the known ones', () => {
  expect(() => parseKernelRequest('debian-4.19')).toThrow(IsolabError);
  expect(() => parseKernelRequest('debian-4.19')).toThrow(/known kernels: debian-6\.1, debian-6\.12, debian-5\.10/);
});

test('kernel request parses a version after @', () => {
  const request = parseKernelRequest('debian-6.12@6.12.118-1');
  expect(request.spec.suite).toBe('trixie');
  expect(request.version).toBe('6.12.118-1');
  expect(parseKernelRequest().spec.name).toBe('debian-6.1');
  expect(() => parseKernelRequest('debian-6.1@;rm')).toThrow(/Debian package version/);
});

test('result description decodes 137 as SIGKILL', () => {
  expect(describeResult(result({ exitCode: 137 }))).toBe('exited with 137 (SIGKILL, often the OOM killer)');
  expect(describeResult(result({ exitCode: null, signal: 'SIGKILL', reason: 'signal' }))).toContain('killed by SIGKILL');
  expect(describeResult(result({ exitCode: null, timedOut: true, reason: 'timeout' }))).toBe('timed out after 1 s');
  expect(exitStatusOf(result({ exitCode: null, signal: 'SIGTERM' }))).toBe(143);
  expect(exitStatusOf(result({ exitCode: null, timedOut: true }))).toBe(124);
});

test('command line quotes arguments and sets env', () => {
  expect(commandLine(['echo', 'a b', "it's"])).toBe(`echo 'a b' 'it'\\''s'`);
  expect(commandLine('pwd', { cwd: '/tmp', env: { A: '1 2' } })).toBe(`cd /tmp && { export A='1 2'; pwd\n}`);
});

test('console lines are crashes, warnings or neither', () => {
  const cases: [string, boolean, string | undefined][] = [
    ['[   12.1] Kernel panic - not syncing: sysrq triggered crash', true, undefined],
    ['[    3.2] BUG: kernel NULL pointer dereference, address: 0000000000000000', true, undefined],
    ['[    3.3] Oops: 0002 [#1] PREEMPT SMP NOPTI', true, undefined],
    ['[   44.0] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [stress:311]', false, 'soft-lockup'],
    ['[   60.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:', false, 'rcu-stall'],
    ['[   61.0] rcu: INFO: rcu_sched self-detected stall on CPU', false, 'rcu-stall'],
    ['[  150.0] INFO: task kworker/0:1:12 blocked for more than 120 seconds.', false, 'hung-task'],
    ['[   70.0] isolab-watch: taint changed from 0 to 512', true, undefined],
    ['[   70.0] isolab-watch: taint changed from 0 to 16384', false, 'taint'],
    ['isolab-boot: sshd 4.9', false, undefined],
  ];
  for (const [line, crash, warning] of cases) {
    expect(classifyLine(line), line).toEqual(warning ? { crash, warning } : { crash });
  }
});

test('facts parser reads cgroup v1 mounts and config', () => {
  const output = [
    '@@ release', '6.12.118+deb13-amd64', '@@ build', '#1 SMP Debian', '@@ cgroupfs', 'tmpfs',
    '@@ v2', 'memory', '@@ mounts',
    '35 30 0:30 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    '36 30 0:31 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
    '@@ kernel-controllers', '#subsys_name\thierarchy\tnum_cgroups\tenabled', 'cpu\t2\t1\t1', 'memory\t0\t1\t1', 'pids\t3\t1\t1',
    '@@ cpus', '2', '@@ meminfo', 'MemTotal:        2000000 kB', 'SwapTotal:             0 kB',
    '@@ config', '# CONFIG_MEMCG_V1 is not set', 'CONFIG_MEMCG=y', 'CONFIG_ZRAM=m',
  ].join('\n');
  const facts = parseKernelFacts(output);
  expect(facts.release).toBe('6.12.118+deb13-amd64');
  expect(facts.cgroup.version).toBe(1);
  expect(facts.cgroup.v1Controllers).toEqual(['cpu', 'pids']);
  expect(facts.cgroup.v2Controllers).toEqual(['memory']);
  expect(facts.cgroup.kernelControllers).toEqual(['cpu', 'memory', 'pids']);
  expect(facts.config).toEqual({ MEMCG_V1: 'n', MEMCG: 'y', ZRAM: 'm' });
  expect(facts.memoryBytes).toBe(2000000 * 1024);
  expect(facts.cpus).toBe(2);
});

test('cpio archive lists and extracts with busybox cpio', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'isolab-cpio-'));
  try {
    const archive = encodeCpio([
      { type: 'dir', path: 'etc' },
      { type: 'file', path: 'etc/hello', data: Buffer.from('hi\n'), mode: 0o600 },
      { type: 'symlink', path: 'etc/link', target: 'hello' },
    ]);
    await execa('busybox', ['cpio', '-i', '-d'], { cwd: dir, input: archive });
    expect(await fs.readFile(path.join(dir, 'etc/hello'), 'utf8')).toBe('hi\n');
    expect(await fs.readlink(path.join(dir, 'etc/link'))).toBe('hello');
    expect((await fs.stat(path.join(dir, 'etc/hello'))).mode & 0o777).toBe(0o600);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('mirror comes from the system sources list', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'isolab-apt-'));
  try {
    await fs.mkdir(path.join(dir, 'sources.list.d'));
    await fs.writeFile(path.join(dir, 'sources.list.d', 'debian.sources'), [
      'Types: deb', 'URIs: http://mirror.example/debian', 'Suites: bookworm bookworm-updates', 'Components: main', '',
      'Types: deb', 'URIs: http://mirror.example/debian-security', 'Suites: bookworm-security', 'Components: main',
    ].join('\n'));
    const mirror = await systemMirror(dir);
    expect(mirror.archive).toBe('http://mirror.example/debian');
    expect(mirror.security).toBe('http://mirror.example/debian-security');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
