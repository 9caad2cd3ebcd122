#!/usr/bin/env node
// Drives native/build/isolab-runtime through create and exec as root on this
// machine, playing the engine's part of PROTOCOL.md: it writes plans, id maps
// and cgroup.procs, sends `go`, opens the exec fifo and reads exit.json.
// It needs root, busybox-static at /bin/busybox, cgroup v1 pids at
// /sys/fs/cgroup/pids and cgroup2 at /sys/fs/cgroup/unified (or /sys/fs/cgroup).
// Everything it makes lives under isolab-native-test names and is removed at
// the end. Usage: node native/test/drive.mjs [--fallbacks], where --fallbacks
// sets ISOLAB_RUNTIME_FALLBACKS=1 to run the code paths for older kernels.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// ISOLAB_RUNTIME picks another binary or wrapper, as it does for the engine.
const helperPath = process.env.ISOLAB_RUNTIME ?? path.resolve(here, '../build/isolab-runtime');
const TOTAL_TIMEOUT_MS = 180_000;
const STEP_TIMEOUT_MS = 10_000;
const PIDS_CGROUP = '/sys/fs/cgroup/pids/isolab-native-test';
const MEMORY_CGROUP = '/sys/fs/cgroup/memory/isolab-native-test';
const V2_ROOT = fs.existsSync('/sys/fs/cgroup/unified/cgroup.procs')
  ? '/sys/fs/cgroup/unified'
  : '/sys/fs/cgroup';
const V2_CGROUP = path.join(V2_ROOT, 'isolab-native-test');
const USERNS_BASE = 100000;
const APPLETS = ['sh', 'echo', 'cat', 'hostname', 'id', 'sleep', 'readlink', 'grep', 'touch',
  'wc', 'ls', 'env', 'head', 'cut', 'test', 'true', 'false', 'tr'];
const fallbacks = process.argv.includes('--fallbacks');

const results = { passed: 0, failed: 0 };
const cleanups = [];
const helpers = new Set();

function check(name, ok, detail = '') {
  if (ok) {
    results.passed += 1;
    console.log(`ok    ${name}`);
  } else {
    results.failed += 1;
    console.log(`FAIL  ${name}${detail ? `: ${detail}` : ''}`);
  }
}

function escapeField(value) {
  return String(value).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
}

const UNESCAPED = { t: '\t', n: '\n', '\\': '\\' };

function unescapeField(value) {
  return value.replace(/\\([\\tn])/g, (_, c) => UNESCAPED[c]);
}

function writePlan(file, directives) {
  const text = directives.map((fields) => fields.map(escapeField).join('\t')).join('\n');
  fs.writeFileSync(file, `${text}\n`, { mode: 0o600 });
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A running helper: fd 3 as a line queue, stdout collected as text. */
class Helper {
  constructor(mode, planFile, extraStdio = []) {
    const env = { ...process.env };
    if (fallbacks) env.ISOLAB_RUNTIME_FALLBACKS = '1';
    const stdio = ['ignore', 'pipe', 'inherit', 'pipe', ...extraStdio];
    this.child = spawn(helperPath, [mode, planFile], { stdio, env });
    helpers.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        helpers.delete(this.child);
        resolve({ code, signal });
      });
    });

    this.stdout = '';
    this.stdoutWaiters = [];
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk) => {
      this.stdout += chunk;
      for (const wake of this.stdoutWaiters.splice(0)) wake();
    });

    this.queue = [];
    this.waiters = [];
    this.closed = false;
    let buffer = '';
    const channel = this.child.stdio[3];
    channel.setEncoding('utf8');
    channel.on('data', (chunk) => {
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        this.push(buffer.slice(0, nl).split('\t').map(unescapeField));
        buffer = buffer.slice(nl + 1);
      }
    });
    channel.on('close', () => {
      this.closed = true;
      this.push(undefined);
    });
    channel.on('error', () => undefined);
    this.channel = channel;
  }

  push(message) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(message);
    else if (message) this.queue.push(message);
  }

  next(what) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closed) return Promise.resolve(undefined);
    return withTimeout(new Promise((resolve) => this.waiters.push(resolve)), STEP_TIMEOUT_MS, what);
  }

  async expect(type) {
    const message = await this.next(type);
    if (!message || message[0] !== type) {
      throw new Error(`expected ${type}, got ${message ? message.join(' ') : 'end of fd 3'}`);
    }
    return message;
  }

  send(...fields) {
    this.channel.write(`${fields.map(escapeField).join('\t')}\n`);
  }

  /** Waits until stdout contains marker and returns stdout up to it. */
  async stdoutUntil(marker) {
    const found = async () => {
      while (!this.stdout.includes(marker)) {
        await new Promise((resolve) => this.stdoutWaiters.push(resolve));
      }
      return this.stdout.slice(0, this.stdout.indexOf(marker));
    };
    return withTimeout(found(), STEP_TIMEOUT_MS, `"${marker}" on stdout`);
  }
}

function makeTempDir(parent, prefix) {
  const dir = fs.mkdtempSync(path.join(parent, prefix));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Builds a root filesystem with busybox and applet symlinks. */
function makeBusyboxRoot(dir) {
  for (const sub of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc']) fs.mkdirSync(path.join(dir, sub));
  fs.copyFileSync('/bin/busybox', path.join(dir, 'bin/busybox'));
  fs.chmodSync(path.join(dir, 'bin/busybox'), 0o755);
  for (const applet of APPLETS) fs.symlinkSync('busybox', path.join(dir, 'bin', applet));
}

function makeCgroup(dir) {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Kills every process in a test cgroup (all of them started by this script) and removes it. */
function removeCgroup(dir) {
  if (!fs.existsSync(dir)) return;
  for (const sub of fs.readdirSync(dir, { withFileTypes: true })) {
    if (sub.isDirectory()) removeCgroup(path.join(dir, sub.name));
  }
  for (let attempt = 0; attempt < 50; attempt++) {
    const pids = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    execFileSync('sleep', ['0.1']);
  }
  fs.rmdirSync(dir);
}

function nsInodes(pid, kinds) {
  return Object.fromEntries(kinds.map((kind) => [kind, fs.readlinkSync(`/proc/${pid}/ns/${kind}`)]));
}

function mkfifo(file) {
  execFileSync('mkfifo', ['-m', '600', file]);
}

/** Opens the exec fifo for reading, as `start` does, and returns the byte init wrote. */
async function start(fifo) {
  const handle = await withTimeout(fs.promises.open(fifo, 'r'), STEP_TIMEOUT_MS, 'exec fifo writer');
  const { bytesRead, buffer } = await handle.read(Buffer.alloc(1), 0, 1, null);
  await handle.close();
  return bytesRead === 1 ? buffer.toString() : '';
}

/** Reads exit.json once the monitor has written it. */
async function readExit(stateDir, helper) {
  const status = await withTimeout(helper.exited, STEP_TIMEOUT_MS, 'monitor exit');
  const file = path.join(stateDir, 'exit.json');
  return { status, exit: fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined };
}

function killCgroupProcesses(dir) {
  const pids = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
  for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
}

/** Runs the create flow up to `ready`; returns the helper, init's pid and the fifo. */
async function create(base, name, directives, { userns = false, cgroup } = {}) {
  const stateDir = path.join(base, `${name}-state`);
  fs.mkdirSync(stateDir, { mode: 0o700 });
  const fifo = path.join(stateDir, 'exec.fifo');
  mkfifo(fifo);
  const planFile = path.join(stateDir, 'plan');
  writePlan(planFile, [['state_dir', stateDir], ['exec_fifo', fifo], ...directives]);
  const helper = new Helper('create', planFile);
  const [, pidText] = await helper.expect('pid');
  const pid = Number(pidText);
  if (userns) {
    fs.writeFileSync(`/proc/${pid}/setgroups`, 'deny');
    fs.writeFileSync(`/proc/${pid}/uid_map`, `0 ${USERNS_BASE} 65536\n`);
    fs.writeFileSync(`/proc/${pid}/gid_map`, `0 ${USERNS_BASE} 65536\n`);
  }
  if (cgroup) fs.writeFileSync(path.join(cgroup, 'cgroup.procs'), String(pid));
  helper.send('go');
  return { helper, pid, fifo, stateDir };
}

/** Runs the exec flow up to `exec`; returns the helper and the process's host pid. */
async function exec(base, name, directives, { cgroupV1, extraStdio } = {}) {
  const planFile = path.join(base, `${name}.plan`);
  writePlan(planFile, directives);
  const helper = new Helper('exec', planFile, extraStdio);
  const [, pidText] = await helper.expect('pid');
  const pid = Number(pidText);
  if (cgroupV1) fs.writeFileSync(path.join(cgroupV1, 'cgroup.procs'), String(pid));
  helper.send('go');
  return { helper, pid };
}

const DOCKER_CAPS = 'a80425fb';

function busyboxMounts({ sysfsFlags }) {
  return [
    ['mount', 'proc', '/proc', 'proc', (0x2 | 0x4 | 0x8).toString(16), '0', ''],
    ['mount', 'tmpfs', '/dev', 'tmpfs', (0x2 | 0x1000000).toString(16), '0', 'mode=755,size=65536k'],
    ['device', '/dev/null', 'c', '1', '3', '666', '0', '0'],
    ['device', '/dev/zero', 'c', '1', '5', '666', '0', '0'],
    ['symlink', '/proc/self/fd', '/dev/fd'],
    ['mkdir', '/dev/shm', '1777'],
    ['mount', 'sysfs', '/sys', 'sysfs', sysfsFlags.toString(16), '0', ''],
  ];
}

const MS_RDONLY = 0x1;
const MS_NOSUID = 0x2;
const MS_NODEV = 0x4;
const MS_NOEXEC = 0x8;

async function testPlanErrors(base) {
  const planFile = path.join(base, 'bad.plan');
  writePlan(planFile, [['state_dir', base], ['frobnicate', 'x'], ['arg', 'true']]);
  const helper = new Helper('create', planFile);
  const message = await helper.next('error');
  check('plan error names unknown directive', message && message.join('|') === 'error|plan|frobnicate|22|unknown directive', message?.join(' '));
  check('plan error exits 1', (await helper.exited).code === 1);

  writePlan(planFile, [['state_dir', base], ['mount', 'proc', '/proc', 'proc', '0', '0', ''], ['arg', 'true']]);
  const unscoped = new Helper('create', planFile);
  const rejected = await unscoped.next('error');
  check('mount without ns mnt is rejected', rejected && rejected[1] === 'plan' && rejected[2] === 'rootfs', rejected?.join(' '));
  await unscoped.exited;
}

/** Tests pid, mnt, uts, ipc, net, cgroup and time namespaces with a busybox root, then exec into it. */
async function testPrivileged(base) {
  const rootfs = path.join(makeTempDir(base, 'root-'), 'rootfs');
  fs.mkdirSync(rootfs);
  makeBusyboxRoot(rootfs);
  const cgroup = makeCgroup(path.join(PIDS_CGROUP, 'privileged'));
  const script = [
    'echo pid=$$',
    'echo host=$(hostname)',
    'test -e /proc/kcore && echo kcore=$(head -c 1 /proc/kcore | wc -c) || echo kcore=absent',
    'echo timer=$(cat /proc/timer_list | wc -c)',
    'grep -q " /proc/acpi " /proc/self/mountinfo && echo acpi=masked',
    'touch /sys/probe 2>/dev/null && echo sys=rw || echo sys=ro',
    'echo shmmax=$(cat /proc/sys/kernel/shmmax)',
    '{ echo 1 > /proc/sys/kernel/shmmax; } 2>/dev/null && echo procsys=rw || echo procsys=ro',
    'echo uptime=$(cut -d. -f1 /proc/uptime)',
    'echo nofile=$(ulimit -n)',
    'echo capbnd=$(grep CapBnd /proc/self/status | cut -f2)',
    'echo nnp=$(grep NoNewPrivs /proc/self/status | cut -f2)',
    'echo cgroup=$(grep pids /proc/self/cgroup)',
    'echo foo=$FOO',
    'touch /etc/probe 2>/dev/null && echo root=rw || echo root=ro',
    'echo END',
    'exec sleep 60',
  ].join('; ');
  const plan = [
    ...['pid', 'mnt', 'uts', 'ipc', 'net', 'cgroup', 'time'].map((kind) => ['ns', kind]),
    ['time_offset', 'boottime', '1000000', '0'],
    ['rootfs', rootfs],
    ...busyboxMounts({ sysfsFlags: MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC }),
    ['pivot'],
    ['mask', '/proc/kcore'],
    ['mask', '/proc/timer_list'],
    ['mask', '/proc/acpi'],
    ['readonly', '/proc/sys'],
    ['root_readonly'],
    ['sysctl', 'kernel.shmmax', '12345'],
    ['hostname', 'isolab-test'],
    ['rlimit', '7', '256', '256'],
    ['caps', DOCKER_CAPS, DOCKER_CAPS, DOCKER_CAPS, '0', '0'],
    ['no_new_privs'],
    ['user', '0', '0', ''],
    ['cwd', '/'],
    ['env', 'PATH=/bin'],
    ['env', 'FOO=bar'],
    ['arg', 'sh'],
    ['arg', '-c'],
    ['arg', script],
  ];
  const { helper, pid, fifo, stateDir } = await create(base, 'privileged', plan, { cgroup });
  const [, readyPid] = await helper.expect('ready');
  check('create: ready carries init pid', Number(readyPid) === pid);
  check('create: init waits on the fifo before start', !helper.stdout.includes('pid='));
  check('create: start reads byte 0', (await start(fifo)) === '0');
  const out = await helper.stdoutUntil('END');
  check('pid ns: init is pid 1', out.includes('pid=1\n'), out);
  check('uts ns: hostname set', out.includes('host=isolab-test\n'), out);
  // This machine's kernel has no /proc/kcore (CONFIG_PROC_KCORE off); a missing mask path is skipped.
  check('mask: /proc/kcore is empty or absent', /kcore=(0|absent)\n/.test(out), out);
  check('mask: host /proc/timer_list has content', fs.readFileSync('/proc/timer_list').length > 0);
  check('mask: /proc/timer_list reads empty', out.includes('timer=0\n'), out);
  check('mask: /proc/acpi covered by a tmpfs', out.includes('acpi=masked\n'), out);
  check('sysfs: /sys is read-only', out.includes('sys=ro\n'), out);
  check('sysctl: kernel.shmmax written before readonly', out.includes('shmmax=12345\n'), out);
  check('readonly: /proc/sys rejects writes', out.includes('procsys=ro\n'), out);
  const uptime = Number(/uptime=(\d+)/.exec(out)?.[1]);
  check('time ns: boottime offset applies', uptime >= 1000000, `uptime ${uptime}`);
  check('rlimit: nofile is 256', out.includes('nofile=256\n'), out);
  check('caps: bounding set dropped', out.includes(`capbnd=00000000${DOCKER_CAPS}\n`), out);
  check('no_new_privs is set', out.includes('nnp=1\n'), out);
  check('cgroup ns: init sees its cgroup as root', /cgroup=\d+:pids:\/\n/.test(out), out);
  check('env: plan environment only', out.includes('foo=bar\n'), out);
  check('root_readonly: / rejects writes', out.includes('root=ro\n'), out);
  check('host hostname unchanged', os.hostname() !== 'isolab-test');

  const kinds = ['mnt', 'pid', 'uts', 'ipc', 'net', 'cgroup', 'time'];
  const joined = await exec(base, 'privileged-exec', [
    ['target_pid', String(pid)],
    ...kinds.map((kind) => ['join', kind]),
    ['env', 'PATH=/bin'],
    ['arg', 'sh'], ['arg', '-c'],
    ['arg', `for n in ${kinds.join(' ')}; do echo $n=$(readlink /proc/self/ns/$n); done; echo self=$$; echo END`],
  ], { cgroupV1: cgroup });
  await joined.helper.expect('exec');
  const execOut = await joined.helper.stdoutUntil('END');
  const initNs = nsInodes(pid, kinds);
  for (const kind of kinds) {
    check(`exec: joins ${kind} ns`, execOut.includes(`${kind}=${initNs[kind]}\n`), `${execOut} vs ${initNs[kind]}`);
  }
  check('exec: helper exits 0', (await joined.helper.exited).code === 0);
  check('exec: pid inside the container is not 1', /self=(\d+)/.exec(execOut)?.[1] !== '1', execOut);

  await testExecProcessSettings(base, pid, cgroup);

  const missing = await exec(base, 'privileged-missing', [
    ['target_pid', String(pid)], ['join', 'mnt'], ['join', 'pid'], ['env', 'PATH=/bin'], ['arg', 'no-such-command'],
  ], { cgroupV1: cgroup });
  const missingError = await missing.helper.next('error');
  check('exec: missing command reports execve ENOENT', missingError?.slice(0, 4).join('|') === 'error|execve|no-such-command|2', missingError?.join(' '));
  check('exec: missing command exits 1', (await missing.helper.exited).code === 1);

  const aborted = new Helper('exec', writeExecPlan(base, 'privileged-abort', pid));
  await aborted.expect('pid');
  aborted.send('abort', '11');
  const abortError = await aborted.next('error');
  check('exec: abort reports cgroup error', abortError?.join('|') === 'error|cgroup|-|11|aborted', abortError?.join(' '));
  check('exec: abort exits 1', (await aborted.exited).code === 1);

  await testNsPath(base, pid, cgroup);

  killCgroupProcesses(cgroup);
  const { status, exit } = await readExit(stateDir, helper);
  check('monitor exits 0', status.code === 0, JSON.stringify(status));
  check('exit.json records SIGKILL', exit?.pid === pid && exit?.signal === 9 && exit?.exitCode === null, JSON.stringify(exit));
  check('exit.json has a finishedAt time', !Number.isNaN(Date.parse(exit?.finishedAt)), JSON.stringify(exit));
}

/** Tests exec with a user, groups, ambient capabilities and one preserved fd. */
async function testExecProcessSettings(base, targetPid, cgroup) {
  const passed = path.join(base, 'preserved.txt');
  fs.writeFileSync(passed, 'preserved-content\n');
  const fd = fs.openSync(passed, 'r');
  const netBindService = (1 << 10).toString(16);
  const script = [
    'echo ids=$(id -u):$(id -g):$(id -G)',
    'echo amb=$(grep CapAmb /proc/self/status | cut -f2)',
    'echo eff=$(grep CapEff /proc/self/status | cut -f2)',
    'echo fd3=$(cat <&3)',
    'echo fds=$(ls /proc/self/fd | wc -l)',
    'echo cwd=$(pwd)',
    'echo END',
  ].join('; ');
  const run = await exec(base, 'privileged-settings', [
    ['target_pid', String(targetPid)],
    ...['mnt', 'pid', 'uts', 'ipc', 'net', 'cgroup'].map((kind) => ['join', kind]),
    ['user', '1000', '1000', '10,20'],
    ['caps', DOCKER_CAPS, netBindService, netBindService, netBindService, netBindService],
    ['preserve_fds', '1'],
    ['cwd', '/tmp'],
    ['env', 'PATH=/bin'],
    ['arg', 'sh'], ['arg', '-c'], ['arg', script],
  ], { cgroupV1: cgroup, extraStdio: [fd] });
  fs.closeSync(fd);
  await run.helper.expect('exec');
  const out = await run.helper.stdoutUntil('END');
  check('exec user: uid, gid and groups', out.includes('ids=1000:1000:1000 10 20\n'), out);
  check('exec caps: ambient raised for uid 1000', out.includes('amb=0000000000000400\n'), out);
  check('exec caps: effective after execve', out.includes('eff=0000000000000400\n'), out);
  check('exec preserve_fds: fd 4 arrives as fd 3', out.includes('fd3=preserved-content\n'), out);
  // ls sees 0, 1, 2, 3 and its own directory fd.
  check('exec preserve_fds: no other fd leaks', out.includes('fds=5\n'), out);
  check('exec cwd: set', out.includes('cwd=/tmp\n'), out);
  check('exec settings: helper exits 0', (await run.helper.exited).code === 0);
}

/** Creates a second container that joins the first one's net, uts and ipc namespaces by path. */
async function testNsPath(base, targetPid, cgroup) {
  const shared = ['net', 'uts', 'ipc'];
  const plan = [
    ['ns', 'pid'], ['ns', 'mnt'],
    ...shared.map((kind) => ['ns_path', kind, `/proc/${targetPid}/ns/${kind}`]),
    ['env', 'PATH=/usr/bin:/bin'],
    ['arg', 'sh'], ['arg', '-c'], ['arg', 'echo host=$(hostname); echo END; exec sleep 60'],
  ];
  const { helper, pid, fifo, stateDir } = await create(base, 'ns-path', plan, { cgroup });
  await helper.expect('ready');
  await start(fifo);
  const out = await helper.stdoutUntil('END');
  const mine = nsInodes(pid, [...shared, 'pid']);
  const target = nsInodes(targetPid, [...shared, 'pid']);
  for (const kind of shared) check(`ns_path: joins ${kind} ns`, mine[kind] === target[kind], `${mine[kind]} vs ${target[kind]}`);
  check('ns_path: pid ns stays its own', mine.pid !== target.pid);
  check('ns_path: sees the joined hostname', out.includes('host=isolab-test\n'), out);
  process.kill(pid, 'SIGKILL');
  const { exit } = await readExit(stateDir, helper);
  check('ns_path: exit.json records SIGKILL', exit?.signal === 9, JSON.stringify(exit));
}

function writeExecPlan(base, name, pid) {
  const planFile = path.join(base, `${name}.plan`);
  writePlan(planFile, [['target_pid', String(pid)], ['join', 'mnt'], ['env', 'PATH=/bin'], ['arg', 'true']]);
  return planFile;
}

/** Tests a user namespace mapping 0 to 100000, the sysfs fallback, and exec joining every namespace. */
async function testUserNamespace(base) {
  const rootfs = path.join(makeTempDir(base, 'userns-'), 'rootfs');
  fs.mkdirSync(rootfs);
  makeBusyboxRoot(rootfs);
  const cgroup = makeCgroup(path.join(PIDS_CGROUP, 'userns'));
  const script = [
    'echo uid=$(id -u)',
    'echo map=$(cat /proc/self/uid_map)',
    'echo pid=$$',
    'test -e /proc/kcore && echo kcore=$(head -c 1 /proc/kcore | wc -c) || echo kcore=absent',
    'grep -q " /proc/timer_list " /proc/self/mountinfo && echo timer=masked',
    'touch /sys/probe 2>/dev/null && echo sys=rw || echo sys=ro',
    'grep -q " /sys .*ro," /proc/mounts && echo sysmount=ro || echo sysmount=rw',
    'echo null=$(echo x > /dev/null && echo writable)',
    'echo uptime=$(cut -d. -f1 /proc/uptime)',
    'echo END',
    'exec sleep 60',
  ].join('; ');
  const plan = [
    ...['user', 'pid', 'mnt', 'uts', 'ipc', 'cgroup', 'time'].map((kind) => ['ns', kind]),
    ['time_offset', 'boottime', '500000', '0'],
    ['rootfs', rootfs],
    ...busyboxMounts({ sysfsFlags: MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC }),
    ['pivot'],
    ['mask', '/proc/kcore'],
    ['mask', '/proc/timer_list'],
    ['readonly', '/proc/sys'],
    ['hostname', 'isolab-userns'],
    ['oom_score_adj', '500'],
    ['env', 'PATH=/bin'],
    ['arg', 'sh'], ['arg', '-c'], ['arg', script],
  ];
  const { helper, pid, fifo, stateDir } = await create(base, 'userns', plan, { userns: true, cgroup });
  await helper.expect('ready');
  check('userns: fifo made writable for the mapped root', (fs.statSync(fifo).mode & 0o777) === 0o622);
  const probeInit = async (name) => {
    const run = await exec(base, name, [
      ['target_pid', String(pid)], ...['user', 'mnt', 'pid'].map((kind) => ['join', kind]),
      ['env', 'PATH=/bin'], ['arg', 'sh'], ['arg', '-c'],
      ['arg', 'ls /proc/1/fd >/dev/null 2>&1 && echo fd=open || echo fd=denied; readlink /proc/1/exe >/dev/null 2>&1 && echo exe=open || echo exe=denied; echo END'],
    ], { cgroupV1: cgroup });
    await run.helper.expect('exec');
    const out = await run.helper.stdoutUntil('END');
    await run.helper.exited;
    return out;
  };
  const waiting = await probeInit('userns-probe-waiting');
  check('userns: init fds hidden from the container before start', waiting.includes('fd=denied\n'), waiting);
  check('userns: helper binary hidden behind /proc/1/exe', waiting.includes('exe=denied\n'), waiting);
  check('userns: start reads byte 0', (await start(fifo)) === '0');
  const out = await helper.stdoutUntil('END');
  check('userns: uid 0 inside', out.includes('uid=0\n'), out);
  check('userns: uid map 0 -> 100000', /map=\s*0 100000 65536\n/.test(out), out);
  check('userns: init is pid 1', out.includes('pid=1\n'), out);
  check('userns: /proc/kcore empty or absent', /kcore=(0|absent)\n/.test(out), out);
  check('userns: /proc/timer_list masked', out.includes('timer=masked\n'), out);
  check('userns: /sys read-only after sysfs fallback', out.includes('sys=ro\n') && out.includes('sysmount=ro\n'), out);
  check('userns: /dev/null bound from the host', out.includes('null=writable\n'), out);
  check('userns: time ns offset applies', Number(/uptime=(\d+)/.exec(out)?.[1]) >= 500000, out);
  const running = await probeInit('userns-probe-running');
  check('userns: control: init fds visible after execve', running.includes('fd=open\n'), running);
  check('oom_score_adj: init inherits 500', fs.readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim() === '500');
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  check('userns: host sees init as uid 100000', /Uid:\t100000\t/.test(status), status.split('\n').find((l) => l.startsWith('Uid')));

  // The time namespace was made before the user namespace, so the host's user namespace owns it.
  const kinds = ['user', 'mnt', 'pid', 'uts', 'ipc', 'net', 'cgroup', 'time'];
  const joined = await exec(base, 'userns-exec', [
    ['target_pid', String(pid)],
    ...kinds.map((kind) => ['join', kind]),
    ['user', '1000', '1000', ''],
    ['env', 'PATH=/bin'],
    ['arg', 'sh'], ['arg', '-c'],
    ['arg', `for n in ${kinds.join(' ')}; do echo $n=$(readlink /proc/self/ns/$n); done; echo uid=$(id -u); echo host=$(hostname); echo END`],
  ], { cgroupV1: cgroup });
  const [, execPid] = await joined.helper.expect('exec');
  check('userns exec: exec carries the host pid', Number(execPid) === joined.pid);
  const execOut = await joined.helper.stdoutUntil('END');
  const initNs = nsInodes(pid, kinds);
  for (const kind of kinds) {
    check(`userns exec: joins ${kind} ns`, execOut.includes(`${kind}=${initNs[kind]}\n`), `${execOut} vs ${initNs[kind]}`);
  }
  check('userns exec: runs as uid 1000', execOut.includes('uid=1000\n'), execOut);
  check('userns exec: sees the container hostname', execOut.includes('host=isolab-userns\n'), execOut);
  check('userns exec: helper exits 0', (await joined.helper.exited).code === 0);

  const cgroupV2 = makeCgroup(path.join(V2_CGROUP, 'exec'));
  const intoCgroup = await exec(base, 'userns-exec-v2', [
    ['target_pid', String(pid)],
    ...kinds.map((kind) => ['join', kind]),
    ['cgroup_dir', cgroupV2],
    ['env', 'PATH=/bin'],
    ['arg', 'sh'], ['arg', '-c'], ['arg', 'echo START; exec sleep 30'],
  ]);
  await intoCgroup.helper.expect('exec');
  await intoCgroup.helper.stdoutUntil('START');
  const procCgroup = fs.readFileSync(`/proc/${intoCgroup.pid}/cgroup`, 'utf8');
  check('exec cgroup_dir: child starts in the v2 cgroup', procCgroup.includes(`0::/${path.relative(V2_ROOT, cgroupV2)}\n`), procCgroup);
  intoCgroup.helper.child.kill('SIGTERM');
  const forwarded = await withTimeout(intoCgroup.helper.exited, STEP_TIMEOUT_MS, 'exec helper exit');
  check('exec: SIGTERM is forwarded, helper exits 143', forwarded.code === 143, JSON.stringify(forwarded));

  killCgroupProcesses(cgroup);
  const { exit } = await readExit(stateDir, helper);
  check('userns: exit.json records SIGKILL', exit?.signal === 9, JSON.stringify(exit));
}

/** Tests an overlay with / as lower and upper/work on a tmpfs under /run. */
async function testOverlay(base) {
  const layers = fs.mkdtempSync('/run/isolab-native-test-');
  cleanups.push(() => fs.rmSync(layers, { recursive: true, force: true }));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=755', 'isolab-native-test', layers]);
  cleanups.push(() => execFileSync('umount', [layers]));
  fs.mkdirSync(path.join(layers, 'upper'));
  fs.mkdirSync(path.join(layers, 'work'));
  const rootfs = path.join(makeTempDir(base, 'overlay-'), 'rootfs');
  fs.mkdirSync(rootfs);
  const probe = `/isolab-native-test-probe-${process.pid}`;
  const plan = [
    ['ns', 'pid'], ['ns', 'mnt'],
    ['rootfs', rootfs],
    ['overlay', '/', path.join(layers, 'upper'), path.join(layers, 'work')],
    ['mount', 'proc', '/proc', 'proc', '0', '0', ''],
    ['pivot'],
    ['env', 'PATH=/usr/bin:/bin'],
    ['arg', 'sh'], ['arg', '-c'],
    ['arg', `echo pid=$$; echo written > ${probe} && cat ${probe}; echo END`],
  ];
  const { helper, fifo, stateDir } = await create(base, 'overlay', plan);
  await helper.expect('ready');
  await start(fifo);
  const out = await helper.stdoutUntil('END');
  check('overlay: init is pid 1', out.includes('pid=1\n'), out);
  check('overlay: write reaches the upper layer', fs.existsSync(path.join(layers, 'upper', probe)), out);
  check('overlay: host root untouched', !fs.existsSync(probe));
  const { status, exit } = await readExit(stateDir, helper);
  check('overlay: exit.json records exit code 0', exit?.exitCode === 0 && exit?.signal === null, JSON.stringify(exit));
  check('overlay: oomKills null without oom_file', exit?.oomKills === null, JSON.stringify(exit));
  check('overlay: monitor exits 0', status.code === 0);
}

/** Checks that an OOM kill in a cgroup v1 memory cgroup reaches exit.json through oom_file. */
async function testOomKill(base) {
  const rootfs = path.join(makeTempDir(base, 'oom-'), 'rootfs');
  fs.mkdirSync(rootfs);
  makeBusyboxRoot(rootfs);
  const memory = makeCgroup(path.join(MEMORY_CGROUP, 'oom'));
  fs.writeFileSync(path.join(memory, 'memory.limit_in_bytes'), String(32 << 20));
  const memsw = path.join(memory, 'memory.memsw.limit_in_bytes');
  if (fs.existsSync(memsw)) fs.writeFileSync(memsw, String(32 << 20));
  const plan = [
    ['ns', 'pid'], ['ns', 'mnt'],
    ['rootfs', rootfs],
    ['mount', 'proc', '/proc', 'proc', '0', '0', ''],
    ['mount', 'tmpfs', '/dev', 'tmpfs', '0', '0', ''],
    ['device', '/dev/zero', 'c', '1', '5', '666', '0', '0'],
    ['pivot'],
    ['oom_file', path.join(memory, 'memory.oom_control')],
    ['env', 'PATH=/bin'],
    ['arg', 'sh'], ['arg', '-c'], ['arg', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived'],
  ];
  const { helper, fifo, stateDir } = await create(base, 'oom', plan, { cgroup: memory });
  await helper.expect('ready');
  await start(fifo);
  const { exit } = await readExit(stateDir, helper);
  check('oom: exit.json records SIGKILL', exit?.signal === 9, JSON.stringify(exit));
  check('oom: exit.json counts the OOM kill', exit?.oomKills >= 1, JSON.stringify(exit));
}

/** Checks that rshared root propagation still pivots and keeps the container's mounts out of the host. */
async function testSharedPropagation(base) {
  const rootfs = path.join(makeTempDir(base, 'shared-'), 'rootfs');
  fs.mkdirSync(rootfs);
  makeBusyboxRoot(rootfs);
  const hostMounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const plan = [
    ['ns', 'pid'], ['ns', 'mnt'],
    ['rootfs', rootfs],
    ['rootfs_propagation', 'rshared'],
    ['mount', 'proc', '/proc', 'proc', '0', '0', ''],
    ['mount', 'tmpfs', '/tmp', 'tmpfs', '0', '0', ''],
    ['pivot'],
    ['env', 'PATH=/bin'],
    ['arg', 'sh'], ['arg', '-c'], ['arg', 'grep -c shared: /proc/self/mountinfo; echo END'],
  ];
  const { helper, fifo, stateDir } = await create(base, 'shared', plan);
  await helper.expect('ready');
  const duringSetup = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  await start(fifo);
  const out = await helper.stdoutUntil('END');
  check('rshared: container mounts are shared', Number(out.trim().split('\n')[0]) > 0, out);
  check('rshared: host mount table unchanged', duringSetup === hostMounts);
  const { exit } = await readExit(stateDir, helper);
  check('rshared: exit code 0', exit?.exitCode === 0, JSON.stringify(exit));
}

/** Runs sh -c SCRIPT in a container with the given device rules (none: no filter); returns its output. */
async function runWithDeviceRules(base, rootfs, name, rules, script) {
  const cgroup = makeCgroup(path.join(V2_CGROUP, name));
  const plan = [
    ['ns', 'pid'], ['ns', 'mnt'],
    ['rootfs', rootfs],
    ['mount', 'proc', '/proc', 'proc', '0', '0', ''],
    ['mount', 'tmpfs', '/dev', 'tmpfs', '0', '0', ''],
    ['device', '/dev/null', 'c', '1', '3', '666', '0', '0'],
    ['device', '/dev/zero', 'c', '1', '5', '666', '0', '0'],
    ['pivot'],
    ...(rules ? [['device_filter', cgroup], ...rules.map((rule) => ['device_rule', ...rule])] : []),
    ['env', 'PATH=/bin'],
    ['arg', 'sh'], ['arg', '-c'], ['arg', `${script}; echo END`],
  ];
  const { helper, fifo, stateDir } = await create(base, name, plan, { cgroup });
  await helper.expect('ready');
  await start(fifo);
  const out = await helper.stdoutUntil('END');
  await readExit(stateDir, helper);
  return out;
}

/**
 * Checks the cgroup v2 device filter: the subset rule for allow, the overlap
 * rule for deny, the last matching rule deciding, and a control without it.
 */
async function testDeviceFilter(base) {
  const rootfs = path.join(makeTempDir(base, 'devices-'), 'rootfs');
  fs.mkdirSync(rootfs);
  makeBusyboxRoot(rootfs);
  const readZero = 'head -c 1 /dev/zero > /dev/null 2>&1 && echo zero-read=ok || echo zero-read=denied';
  const readNull = 'cat /dev/null && echo null=ok || echo null=denied';
  // A failed exec redirection ends a non-interactive shell, so it runs in a subshell.
  const rwZero = '( exec 3<>/dev/zero ) 2>/dev/null && echo zero-rw=ok || echo zero-rw=denied';

  let out = await runWithDeviceRules(base, rootfs, 'devices-subset', [
    ['deny', 'a', '-1', '-1', 'rwm'], ['allow', 'c', '1', '3', 'rw'], ['allow', 'c', '1', '5', 'w'],
  ], `${readNull}; ${readZero}`);
  check('device filter: allowed /dev/null opens', out.includes('null=ok'), out);
  check('device filter: read outside an allow rule is denied', out.includes('zero-read=denied'), out);

  out = await runWithDeviceRules(base, rootfs, 'devices-overlap', [
    ['allow', 'c', '-1', '-1', 'rwm'], ['deny', 'c', '1', '5', 'w'],
  ], `${readZero}; ${rwZero}`);
  check('device filter: deny w leaves reads', out.includes('zero-read=ok'), out);
  check('device filter: deny w also stops a read-write open', out.includes('zero-rw=denied'), out);

  // /dev/null stays allowed because readZero redirects into it.
  out = await runWithDeviceRules(base, rootfs, 'devices-last', [
    ['allow', 'c', '1', '3', 'rw'], ['deny', 'c', '1', '5', 'rwm'], ['allow', 'c', '1', '5', 'r'],
  ], readZero);
  check('device filter: the last matching rule decides', out.includes('zero-read=ok'), out);

  out = await runWithDeviceRules(base, rootfs, 'devices-control', undefined, `${readNull}; ${readZero}`);
  check('device filter control: /dev/zero opens without the filter', out.includes('zero-read=ok'), out);

  const planFile = path.join(base, 'devices-bad.plan');
  for (const [label, directives] of [
    ['rule without filter', [['device_rule', 'allow', 'c', '1', '3', 'r']]],
    ['type a with a major', [['device_filter', V2_CGROUP], ['device_rule', 'deny', 'a', '1', '-1', 'r']]],
  ]) {
    writePlan(planFile, [['state_dir', base], ...directives, ['arg', 'true']]);
    const helper = new Helper('create', planFile);
    const message = await helper.next('error');
    check(`device filter plan: ${label} is rejected`, message?.[1] === 'plan' && message?.[2] === 'device_rule', message?.join(' '));
    await helper.exited;
  }
}

/** Checks that on a set-up failure the monitor relays the error and writes no exit.json. */
async function testSetupFailure(base) {
  const rootfs = path.join(makeTempDir(base, 'broken-'), 'rootfs');
  fs.mkdirSync(rootfs);
  makeBusyboxRoot(rootfs);
  const plan = [
    ['ns', 'pid'], ['ns', 'mnt'],
    ['rootfs', rootfs],
    ['mount', '/no/such/source', '/mnt', 'bind', (0x1000).toString(16), '0', ''],
    ['pivot'],
    ['env', 'PATH=/bin'],
    ['arg', 'true'],
  ];
  const { helper, stateDir } = await create(base, 'broken', plan);
  const message = await helper.next('error');
  check('setup failure: error names mount and source', message?.slice(0, 4).join('|') === 'error|mount|/no/such/source|2', message?.join(' '));
  const { status, exit } = await readExit(stateDir, helper);
  check('setup failure: monitor exits 1', status.code === 1);
  check('setup failure: no exit.json', exit === undefined);
}

async function main() {
  if (process.getuid() !== 0) throw new Error('run as root');
  if (!fs.existsSync(helperPath)) throw new Error(`missing ${helperPath}; run make -C native`);
  const base = makeTempDir(os.tmpdir(), 'isolab-native-test-');
  makeCgroup(PIDS_CGROUP);
  cleanups.push(() => removeCgroup(PIDS_CGROUP));
  makeCgroup(V2_CGROUP);
  cleanups.push(() => removeCgroup(V2_CGROUP));
  makeCgroup(MEMORY_CGROUP);
  cleanups.push(() => removeCgroup(MEMORY_CGROUP));
  console.log(`helper ${helperPath}${fallbacks ? ' (ISOLAB_RUNTIME_FALLBACKS=1)' : ''}`);
  for (const test of [testPlanErrors, testPrivileged, testUserNamespace, testOverlay, testOomKill,
    testSharedPropagation, testSetupFailure, testDeviceFilter]) {
    try {
      await test(base);
    } catch (err) {
      check(test.name, false, err.stack);
    }
  }
}

function cleanup() {
  for (const child of helpers) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const undo of cleanups.reverse()) {
    try {
      undo();
    } catch (err) {
      console.log(`cleanup failed: ${err.message}`);
    }
  }
  cleanups.length = 0;
}

const watchdog = setTimeout(() => {
  console.log(`FAIL  drive.mjs timed out after ${TOTAL_TIMEOUT_MS} ms`);
  cleanup();
  process.exit(1);
}, TOTAL_TIMEOUT_MS);

main()
  .catch((err) => check('drive.mjs', false, err.stack))
  .finally(() => {
    cleanup();
    clearTimeout(watchdog);
    console.log(`${results.passed} passed, ${results.failed} failed`);
    process.exitCode = results.failed ? 1 : 0;
  });
