// What a process sees inside a container, each with a control run in which
// the same probe shows the host's view.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { test, expect, outputFile, readOutput } from './fixtures.js';

test('container process is PID 1', async ({ engine, makeBundle, workDir, uniqueId }) => {
  const out = await outputFile(workDir, 'pid');
  const bundle = await makeBundle({ args: ['sh', '-c', 'echo $$'] });
  const exit = await engine.run(uniqueId('pid1'), bundle, { stdio: ['ignore', out.fd, out.fd] });
  expect(exit.exitCode).toBe(0);
  expect((await readOutput(out.file)).trim()).toBe('1');
});

test('container without pid namespace is not PID 1', async ({ engine, makeBundle, workDir, uniqueId }) => {
  const out = await outputFile(workDir, 'pid');
  const bundle = await makeBundle({ args: ['sh', '-c', 'echo $$'], namespaces: ['mount', 'uts'] });
  await engine.run(uniqueId('pid-ctl'), bundle, { stdio: ['ignore', out.fd, out.fd] });
  expect((await readOutput(out.file)).trim()).not.toBe('1');
});

test('hostname is the spec hostname', async ({ engine, makeBundle, workDir, uniqueId }) => {
  const out = await outputFile(workDir, 'hostname');
  const bundle = await makeBundle({ args: ['hostname'], hostname: 'isolab-inside' });
  await engine.run(uniqueId('uts'), bundle, { stdio: ['ignore', out.fd, out.fd] });
  expect((await readOutput(out.file)).trim()).toBe('isolab-inside');
  const { hostname } = await import('node:os');
  expect(hostname()).not.toBe('isolab-inside');
});

// /proc/kcore exists only with CONFIG_PROC_KCORE (Debian kernels have it);
// /proc/timer_list is in runc's default masked paths as well and is on
// every kernel with CONFIG_GENERIC_CLOCKEVENTS.
for (const masked of ['/proc/kcore', '/proc/timer_list']) {
  test(`${masked} is masked`, async ({ engine, makeBundle, workDir, uniqueId }) => {
    test.skip(!existsSync(masked), `this kernel has no ${masked}`);
    const out = await outputFile(workDir, 'masked');
    const bundle = await makeBundle({ args: ['sh', '-c', `wc -c < ${masked}; ls -l ${masked}`] });
    await engine.run(uniqueId('masked'), bundle, { stdio: ['ignore', out.fd, out.fd] });
    const text = await readOutput(out.file);
    // A masked file is a /dev/null bind mount: a character device that reads empty.
    expect(text.split('\n')[0].trim()).toBe('0');
    expect(text).toMatch(/^c/m);
  });

  test(`${masked} is readable unmasked (control)`, async ({ engine, makeBundle, workDir, uniqueId }) => {
    test.skip(!existsSync(masked), `this kernel has no ${masked}`);
    const out = await outputFile(workDir, 'unmasked');
    const bundle = await makeBundle({
      args: ['sh', '-c', `ls -l ${masked}; head -c 64 ${masked} | wc -c`],
      edit: (spec) => { spec.linux!.maskedPaths = []; },
    });
    await engine.run(uniqueId('unmasked'), bundle, { stdio: ['ignore', out.fd, out.fd] });
    const text = await readOutput(out.file);
    expect(text).toMatch(/^-r/m);
    if (masked === '/proc/timer_list') expect(text.trim().split('\n').at(-1)).toBe('64');
  });
}

test('/sys is read-only', async ({ engine, makeBundle, workDir, uniqueId }) => {
  const out = await outputFile(workDir, 'sys');
  const bundle = await makeBundle({ args: ['sh', '-c', 'grep " /sys " /proc/mounts; echo 1 > /sys/kernel/profiling && echo wrote'] });
  await engine.run(uniqueId('sys'), bundle, { stdio: ['ignore', out.fd, out.fd] });
  const text = await readOutput(out.file);
  expect(text).toMatch(/ \/sys sysfs ro[,\s]/);
  expect(text).not.toContain('wrote');
});

test('/sys is writable when mounted rw (control)', async ({ engine, makeBundle, workDir, uniqueId }) => {
  const out = await outputFile(workDir, 'sys-ctl');
  const bundle = await makeBundle({
    args: ['sh', '-c', 'grep " /sys " /proc/mounts; echo status $?; cat /proc/mounts'],
    edit: (spec) => {
      const sys = spec.mounts!.find((m) => m.destination === '/sys')!;
      sys.options = (sys.options ?? []).filter((o) => o !== 'ro');
    },
  });
  await engine.run(uniqueId('sys-ctl'), bundle, { stdio: ['ignore', out.fd, out.fd] });
  expect(await readOutput(out.file)).toMatch(/ \/sys sysfs rw[,\s]/);
});

test('host files outside the rootfs are not visible', async ({ engine, makeBundle, workDir, uniqueId, rootfs }) => {
  const marker = path.join(workDir, 'host-marker');
  await fs.writeFile(marker, 'host');
  const out = await outputFile(workDir, 'visible');
  const probe = `test -e ${marker} && echo visible || echo hidden; ls -a /`;
  const bundle = await makeBundle({ args: ['sh', '-c', probe] });
  await engine.run(uniqueId('rootfs'), bundle, { stdio: ['ignore', out.fd, out.fd] });
  const [first, ...listed] = (await readOutput(out.file)).trim().split('\n');
  expect(first).toBe('hidden');
  // Everything at the container's / comes from the rootfs, or is a mount point
  // the spec asked for.
  const spec = JSON.parse(await fs.readFile(path.join(bundle, 'config.json'), 'utf8'));
  const allowed = new Set([...(await fs.readdir(rootfs)), '.', '..', ...spec.mounts.map((m: { destination: string }) => m.destination.split('/')[1])]);
  expect(listed.filter((name) => !allowed.has(name))).toEqual([]);
  expect(listed).not.toContain(path.basename(workDir));
});

test('host files are visible without a mount namespace (control)', async ({ engine, makeBundle, workDir, uniqueId }) => {
  const marker = path.join(workDir, 'host-marker');
  await fs.writeFile(marker, 'host');
  const out = await outputFile(workDir, 'visible-ctl');
  const bundle = await makeBundle({ args: ['sh', '-c', `test -e ${marker} && echo visible || echo hidden`], namespaces: ['pid', 'uts'] });
  await engine.run(uniqueId('rootfs-ctl'), bundle, { stdio: ['ignore', out.fd, out.fd] });
  expect((await readOutput(out.file)).trim()).toBe('visible');
});

for (const userns of [true, false]) {
  test(`uid 0 inside is ${userns ? 'an unprivileged uid' : 'root (control)'} outside`, async ({ engine, makeBundle, workDir, uniqueId }) => {
    const id = uniqueId('userns');
    const out = await outputFile(workDir, 'uid');
    const bundle = await makeBundle({ args: ['sh', '-c', 'id -u; sleep 30'], userns });
    const { pid } = await engine.create(id, bundle, { stdio: ['ignore', out.fd, out.fd] });
    await engine.start(id);
    await expect.poll(async () => (await readOutput(out.file)).trim()).toBe('0');
    const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
    const hostUid = Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
    if (userns) expect(hostUid).toBe(100000);
    else expect(hostUid).toBe(0);
  });
}
