// The runc-shaped command line: the lifecycle, and bad input rejected with a
// one-line error that names the field and value, leaving nothing behind.
import { spawn } from 'node:child_process';
import os, { constants as osConstants } from 'node:os';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test, expect, cliPath } from './fixtures.js';
import { processStartTime } from '../../engine/state.js';

interface CliResult { code: number; stdout: string; stderr: string }

let callCount = 0;

/**
 * Runs `isolab --root ROOT engine ARGS`. Its stdout and stderr go to files,
 * not pipes: a created container inherits them and keeps them open, as with
 * runc, so the call ends when the command exits, not when the pipes close.
 */
async function isolab(root: string, ...args: string[]): Promise<CliResult> {
  const base = path.join(os.tmpdir(), `isolab-cli-${process.pid}-${callCount++}`);
  const out = await fs.open(`${base}.out`, 'w');
  const err = await fs.open(`${base}.err`, 'w');
  try {
    const child = spawn(cliPath, ['--root', root, 'engine', ...args], { stdio: ['ignore', out.fd, err.fd], timeout: 30_000 });
    const code = await new Promise<number>((resolve) => {
      child.once('exit', (exitCode, signal) => resolve(exitCode ?? 128 + (signal ? osConstants.signals[signal] : 0)));
    });
    const stdout = await fs.readFile(`${base}.out`, 'utf8');
    const stderr = await fs.readFile(`${base}.err`, 'utf8');
    return { code, stdout, stderr };
  } finally {
    await out.close();
    await err.close();
    await fs.rm(`${base}.out`, { force: true });
    await fs.rm(`${base}.err`, { force: true });
  }
}

test('lifecycle from create to delete', async ({ engine, makeBundle, uniqueId }) => {
  const root = engine.store.root;
  const id = uniqueId('life');
  const bundle = await makeBundle({ args: ['sleep', '60'], resources: { pids: { limit: 10 } } });
  const pidFile = path.join(bundle, 'pid');

  expect((await isolab(root, 'create', '-b', bundle, '--pid-file', pidFile, id)).code).toBe(0);
  const created = JSON.parse((await isolab(root, 'state', id)).stdout);
  expect(created.status).toBe('created');
  expect(Number(await fs.readFile(pidFile, 'utf8'))).toBe(created.pid);

  expect((await isolab(root, 'start', id)).code).toBe(0);
  expect(JSON.parse((await isolab(root, 'state', id)).stdout).status).toBe('running');
  expect(JSON.parse((await isolab(root, 'ps', id)).stdout)).toContain(created.pid);
  expect(JSON.parse((await isolab(root, 'list', '--format', 'json')).stdout).map((s: { id: string }) => s.id)).toEqual([id]);

  const exec = await isolab(root, 'exec', id, 'sh', '-c', 'echo $$; hostname');
  expect(exec.code).toBe(0);
  expect(exec.stdout.split('\n')[0]).not.toBe('1');

  expect((await isolab(root, 'pause', id)).code).toBe(0);
  expect(JSON.parse((await isolab(root, 'state', id)).stdout).status).toBe('paused');
  expect((await isolab(root, 'resume', id)).code).toBe(0);

  expect((await isolab(root, 'update', id, '--pids-limit', '7')).code).toBe(0);
  expect(JSON.parse((await isolab(root, 'stats', id)).stdout).cgroup.pids.limit).toBe(7);

  const busy = await isolab(root, 'delete', id);
  expect(busy.code).toBe(1);
  expect(busy.stderr).toMatch(/running/);

  expect((await isolab(root, 'kill', id, 'KILL')).code).toBe(0);
  await expect.poll(async () => JSON.parse((await isolab(root, 'state', id)).stdout).status).toBe('stopped');
  const stopped = JSON.parse((await isolab(root, 'state', id)).stdout);
  expect(stopped.exitSignal).toBe(9);

  expect((await isolab(root, 'delete', id)).code).toBe(0);
  expect((await isolab(root, 'delete', id)).code).toBe(0);
  expect((await isolab(root, 'state', id)).code).toBe(1);
});

test('run exits with the container status', async ({ engine, makeBundle, uniqueId }) => {
  const bundle = await makeBundle({ args: ['sh', '-c', 'exit 7'] });
  const result = await isolab(engine.store.root, 'run', '-b', bundle, uniqueId('run'));
  expect(result.code).toBe(7);
  expect(await engine.list()).toEqual([]);
});

test('events reports an OOM kill and the exit', async ({ engine, makeBundle, uniqueId }) => {
  const id = uniqueId('events');
  const bundle = await makeBundle({ args: ['sh', '-c', 'sleep 1; memhog 64'], resources: { memory: { limit: 16 << 20 } } });
  await engine.create(id, bundle);
  await engine.start(id);
  const events = await isolab(engine.store.root, 'events', '--interval', '0', id);
  const types = events.stdout.trim().split('\n').map((line) => JSON.parse(line).type);
  expect(types).toContain('oom');
  expect(types.at(-1)).toBe('exit');
});

test('gc removes a container whose monitor crashed', async ({ engine, makeBundle, uniqueId }) => {
  const id = uniqueId('crash');
  const bundle = await makeBundle({ args: ['sleep', '60'] });
  const record = await engine.create(id, bundle);
  await engine.start(id);
  process.kill(record.monitorPid, 'SIGKILL');
  const report = JSON.parse((await isolab(engine.store.root, 'gc')).stdout);
  expect(report.containers).toContain(id);
  expect(await engine.list()).toEqual([]);
  // With its monitor gone, init's new parent reaps it whenever it does; a
  // zombie has ended all the same.
  expect(processStartTime(record.pid)).toBeUndefined();
});

interface BadCase {
  name: string;
  id?: string;
  edit?: (config: Record<string, any>) => void;
  raw?: string;
  expected: RegExp;
}

const badCases: BadCase[] = [
  { name: 'id with a path', id: '../x', expected: /container id `\.\.\/x`/ },
  { name: 'malformed JSON', raw: '{"ociVersion": ', expected: /JSON/ },
  { name: 'unknown field', edit: (c) => { c.linux.frobnicate = 1; }, expected: /linux\.frobnicate/ },
  { name: 'unsupported seccomp', edit: (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO' }; }, expected: /linux\.seccomp/ },
  { name: 'unsupported hooks', edit: (c) => { c.hooks = { prestart: [{ path: '/bin/true' }] }; }, expected: /hooks/ },
  { name: 'terminal', edit: (c) => { c.process.terminal = true; }, expected: /process\.terminal/ },
  { name: 'negative memory', edit: (c) => { c.linux.resources = { memory: { limit: -5 } }; }, expected: /memory\.limit.*-5/ },
  { name: 'non-numeric pids', edit: (c) => { c.linux.resources = { pids: { limit: 'ten' } }; }, expected: /pids\.limit.*ten/ },
  { name: 'missing rootfs', edit: (c) => { c.root.path = '/nonexistent-isolab-rootfs'; }, expected: /nonexistent-isolab-rootfs/ },
  { name: 'empty args', edit: (c) => { c.process.args = []; }, expected: /process\.args/ },
  {
    name: 'overlapping uid maps',
    edit: (c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 100 }, { containerID: 50, hostID: 200000, size: 10 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 100 }];
    },
    expected: /uidMappings/,
  },
  {
    name: 'unparseable uid map',
    edit: (c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 'x', size: 1 }];
    },
    expected: /uidMappings/,
  },
];

for (const bad of badCases) {
  test(`rejects ${bad.name}`, async ({ engine, makeBundle, uniqueId }) => {
    const bundle = await makeBundle({ args: ['true'] });
    const file = path.join(bundle, 'config.json');
    if (bad.raw) await fs.writeFile(file, bad.raw);
    if (bad.edit) {
      const config = JSON.parse(await fs.readFile(file, 'utf8'));
      bad.edit(config);
      await fs.writeFile(file, JSON.stringify(config));
    }
    const id = bad.id ?? uniqueId('bad');
    const result = await isolab(engine.store.root, 'create', '-b', bundle, id);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(bad.expected);
    expect(await engine.store.ids()).toEqual([]);
  });
}

test('rejects an id in use', async ({ engine, makeBundle, uniqueId }) => {
  const id = uniqueId('dup');
  const bundle = await makeBundle({ args: ['sleep', '30'] });
  await engine.create(id, bundle);
  const result = await isolab(engine.store.root, 'create', '-b', bundle, id);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(new RegExp(`${id}.*in use`));
  expect((await engine.state(id)).status).toBe('created');
});

test('rejects exec into a stopped container', async ({ engine, makeBundle, uniqueId }) => {
  const id = uniqueId('stopped');
  const bundle = await makeBundle({ args: ['true'] });
  await engine.create(id, bundle);
  await engine.start(id);
  await engine.wait(id, 10_000);
  const result = await isolab(engine.store.root, 'exec', id, 'true');
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/stopped/);
});
