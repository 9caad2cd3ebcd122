// Regression tests for the engine's edges: what it may delete, how it locks,
// devices, ids on every verb, and command lines that carry options of their own.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, expect, cliPath, outputFile, readOutput } from './fixtures.js';
import { Engine } from '../../engine/index.js';

function isolab(root: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cliPath, ['--root', root, 'engine', ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

test('gc leaves a root isolab did not make', async ({ workDir }) => {
  const root = path.join(workDir, 'not-a-root');
  await fs.mkdir(path.join(root, 'projects'), { recursive: true });
  await fs.writeFile(path.join(root, 'readme.txt'), 'keep me');
  const result = await isolab(root, 'gc');
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('isolab did not make it');
  expect((await fs.readdir(root)).sort()).toEqual(['projects', 'readme.txt']);
});

test('gc and delete leave directories isolab did not make', async ({ engine, makeBundle, uniqueId }) => {
  const id = uniqueId('real');
  await engine.create(id, await makeBundle({ args: ['sleep', '30'] }));
  const stranger = path.join(engine.store.root, 'projects');
  await fs.mkdir(stranger);
  await fs.writeFile(path.join(stranger, 'main.c'), 'int main(void) { return 0; }\n');
  expect((await engine.gc()).containers).toEqual([]);
  await engine.delete('projects', true);
  expect(await fs.readFile(path.join(stranger, 'main.c'), 'utf8')).toContain('main');
  await fs.rm(stranger, { recursive: true });
});

test('concurrent creates of one id: one wins', async ({ engine, makeBundle, uniqueId }) => {
  const id = uniqueId('race');
  const bundle = await makeBundle({ args: ['sleep', '30'] });
  const results = await Promise.allSettled(Array.from({ length: 6 }, () => engine.create(id, bundle)));
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  for (const r of results) {
    if (r.status === 'rejected') expect(String(r.reason)).toContain('the id is in use');
  }
  expect((await engine.state(id)).status).toBe('created');
});

test('every verb rejects an id with a path', async ({ engine }) => {
  for (const verb of ['state', 'start', 'kill', 'delete', 'pause', 'ps', 'stats', 'update']) {
    const result = await isolab(engine.store.root, verb, '../../../tmp/evil');
    expect(result.code, verb).not.toBe(0);
    expect(result.stderr, verb).toContain('container id `../../../tmp/evil`');
  }
});

test('exec keeps the command own options', async ({ engine, makeBundle, uniqueId }) => {
  const id = uniqueId('argv');
  await engine.create(id, await makeBundle({ args: ['sleep', '30'] }));
  await engine.start(id);
  const result = await isolab(engine.store.root, 'exec', id, 'sh', '-c', 'echo "$@"', 'sh', '--json', '--root', '/tmp');
  expect(result.stderr).toBe('');
  expect(result.stdout.trim()).toBe('--json --root /tmp');
});

test('update applies a resources file', async ({ engine, makeBundle, uniqueId, workDir }) => {
  const id = uniqueId('upd');
  await engine.create(id, await makeBundle({ args: ['sleep', '30'], resources: { memory: { limit: 32 << 20 } } }));
  const file = path.join(workDir, 'resources.json');
  await fs.writeFile(file, JSON.stringify({ memory: { limit: 48 << 20 }, cpu: { quota: 20000, period: 100000 } }));
  expect((await isolab(engine.store.root, 'update', id, '--resources', file)).code).toBe(0);
  const stats = (await engine.stats(id)).cgroup;
  expect(stats.memory!.limit).toBe(48 << 20);
  expect(stats.cpu!.quotaUsec).toBe(20000);
  await fs.writeFile(file, JSON.stringify({ memory: { limit: 'big' } }));
  const bad = await isolab(engine.store.root, 'update', id, '--resources', file);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain('memory.limit');
  expect((await engine.stats(id)).cgroup.memory!.limit).toBe(48 << 20);
});

test('delete -f removes a container with a corrupt record', async ({ engine, makeBundle, uniqueId }) => {
  const id = uniqueId('corrupt');
  const { pid } = await engine.create(id, await makeBundle({ args: ['sleep', '30'] }));
  await fs.writeFile(path.join(engine.store.dir(id), 'state.json'), '{"broken":');
  await expect(engine.state(id)).rejects.toThrow(/state\.json/);
  await engine.delete(id, true);
  expect(await engine.store.ids()).toEqual([]);
  await expect.poll(() => fs.access(`/proc/${pid}/stat`).then(() => 'alive', () => 'gone')).toBe('gone');
});

test('host root needs the overlay annotation', async ({ engine, makeBundle, uniqueId }) => {
  const bundle = await makeBundle({ args: ['true'], edit: (spec) => { spec.root = { path: '/', readonly: true }; } });
  await expect(engine.create(uniqueId('hostroot'), bundle)).rejects.toThrow(/root\.path `\/`.*isolab\.rootfs=overlay/);
});

// A block device outside runc's default rules: loop devices, major 7.
const MKNOD_PROBE = 'mknod /dev/probe b 7 0 && head -c 1 /dev/probe >/dev/null && echo opened || echo denied';

test('device outside the default rules is denied', async ({ engine, makeBundle, uniqueId, workDir }) => {
  test.skip(!(await fs.access('/sys/fs/cgroup/devices').then(() => true, () => false)), 'no v1 devices hierarchy on this host');
  const id = uniqueId('dev');
  const bundle = await makeBundle({ args: ['sleep', '30'], edit: addMknod });
  await engine.create(id, bundle);
  await engine.start(id);
  const out = await outputFile(workDir, 'dev');
  await engine.execAndWait(id, ['sh', '-c', MKNOD_PROBE], { stdio: ['ignore', out.fd, out.fd] });
  expect(await readOutput(out.file)).toContain('denied');
});

test('device is opened outside the devices cgroup (control)', async ({ engine, makeBundle, uniqueId, workDir }) => {
  test.skip(!(await fs.access('/dev/loop0').then(() => true, () => false)), 'this host has no /dev/loop0 to open');
  const id = uniqueId('dev-ctl');
  await engine.create(id, await makeBundle({ args: ['sleep', '30'], edit: addMknod }));
  await engine.start(id);
  const out = await outputFile(workDir, 'dev-ctl');
  await engine.execAndWait(id, ['sh', '-c', MKNOD_PROBE], { stdio: ['ignore', out.fd, out.fd], skipCgroup: true });
  expect(await readOutput(out.file)).toContain('opened');
});

function addMknod(spec: import('../../engine/spec/oci.js').Spec): void {
  for (const set of ['bounding', 'effective', 'permitted'] as const) spec.process!.capabilities![set]!.push('CAP_MKNOD');
}

test('state root made by the engine carries its marker', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'isolab-root-'));
  await fs.rm(root, { recursive: true });
  const engine = new Engine(root);
  expect(await engine.gc()).toEqual({ containers: [], cgroups: [], leases: [] });
  await engine.store.ensureRoot();
  expect(await fs.readdir(root)).toContain('.isolab-root');
  await fs.rm(root, { recursive: true });
});
