// Container networking: a port space per network namespace, the bridge, and
// published ports, each with a control in which the namespace is shared.
import http from 'node:http';
import { createServer } from 'node:net';
import { execFileSync } from 'node:child_process';
import { statSync, promises as fs } from 'node:fs';
import { test as base, expect, outputFile, readOutput, pollFor, type BundleOptions } from './fixtures.js';
import type { Engine } from '../../engine/index.js';
import { bridgeName, filterTableName, hostVethName } from '../../engine/network/names.js';

let subnetCounter = 0;

// Each test's engine has its own state root and so its own bridge; parallel
// workers get disjoint /24s inside 198.18.0.0/15.
const test = base.extend<{ subnet: string }>({
  subnet: async ({}, use, testInfo) => {
    await use(`198.18.${1 + testInfo.parallelIndex * 100 + (subnetCounter++ % 100)}.0/24`);
  },
});

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { timeout: 5000 }, (response) => {
      let body = '';
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => resolve(body));
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startServer(engine: Engine, makeBundle: (o: BundleOptions) => Promise<string>, id: string, options: {
  subnet: string; publish?: string[]; edit?: BundleOptions['edit'];
}) {
  const bundle = await makeBundle({ args: ['httpid', '80', id], edit: options.edit });
  const record = await engine.create(id, bundle, { network: { net: 'bridge', subnet: options.subnet, publish: options.publish } });
  await engine.start(id);
  const address = record.network!.address!;
  await pollFor(`${id} to answer`, async () => (await get(`http://${address}/`).catch(() => undefined)));
  return { record, address };
}

function mtuIn(pid: number, device: string): number {
  const out = execFileSync('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-json', 'link', 'show', device], { encoding: 'utf8' });
  return (JSON.parse(out) as Array<{ mtu: number }>)[0].mtu;
}

async function hostLinks(): Promise<string[]> {
  const out = execFileSync('ip', ['-json', 'link', 'show'], { encoding: 'utf8' });
  return (JSON.parse(out) as Array<{ ifname: string }>).map((l) => l.ifname);
}

function nftTables(): string[] {
  return execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

test('two containers serve port 80 separately', async ({ engine, makeBundle, uniqueId, subnet, workDir }) => {
  const a = await startServer(engine, makeBundle, uniqueId('web-a'), { subnet });
  const b = await startServer(engine, makeBundle, uniqueId('web-b'), { subnet });
  expect(a.address).not.toBe(b.address);
  expect(statSync(`/proc/${a.record.pid}/ns/net`).ino).not.toBe(statSync(`/proc/${b.record.pid}/ns/net`).ino);
  expect(await get(`http://${a.address}/`)).toBe(a.record.id);
  expect(await get(`http://${b.address}/`)).toBe(b.record.id);

  const out = await outputFile(workDir, 'client');
  const client = await makeBundle({ args: ['sh', '-c', `wget -qO- http://${a.address}/; echo; wget -qO- http://${b.address}/`] });
  const exit = await engine.run(uniqueId('client'), client, { stdio: ['ignore', out.fd, out.fd], network: { net: 'bridge' } });
  expect(exit.exitCode).toBe(0);
  expect((await readOutput(out.file)).trim().split('\n')).toEqual([a.record.id, b.record.id]);
});

// IFF_UP (0x1) and IFF_LOOPBACK (0x8): lo starts down in a new network namespace.
for (const userns of [false, true]) {
  test(`loopback is up without a network${userns ? ' in a user namespace' : ''}`, async ({ engine, makeBundle, uniqueId, workDir }) => {
    const out = await outputFile(workDir, 'flags');
    const bundle = await makeBundle({ args: ['cat', '/sys/class/net/lo/flags'], userns });
    const exit = await engine.run(uniqueId('lo'), bundle, { stdio: ['ignore', out.fd, out.fd] });

    expect(exit.exitCode).toBe(0);
    expect((await readOutput(out.file)).trim()).toBe('0x9');
  });
}

test('shared network namespace gives EADDRINUSE (control)', async ({ engine, makeBundle, uniqueId, workDir }) => {
  const first = uniqueId('shared-a');
  const bundle = await makeBundle({ args: ['httpid', '80', first] });
  const { pid } = await engine.create(first, bundle);
  await engine.start(first);
  const out = await outputFile(workDir, 'second');
  const second = await makeBundle({
    args: ['httpid', '80', 'second'],
    edit: (spec) => {
      spec.linux!.namespaces = spec.linux!.namespaces!.map((ns) => (ns.type === 'network' ? { type: 'network', path: `/proc/${pid}/ns/net` } : ns));
      spec.mounts = spec.mounts!.filter((m) => m.type !== 'sysfs');
    },
  });
  const exit = await engine.run(uniqueId('shared-b'), second, { stdio: ['ignore', out.fd, out.fd] });
  expect(exit.exitCode).toBe(1);
  expect(await readOutput(out.file)).toContain('bind failed: Address already in use');
});

test('published port answers on loopback', async ({ engine, makeBundle, uniqueId, subnet }) => {
  const hostPort = await freePort();
  const a = await startServer(engine, makeBundle, uniqueId('pub'), { subnet, publish: [`${hostPort}:80`] });
  expect(await get(`http://127.0.0.1:${hostPort}/`)).toBe(a.record.id);

  const clash = uniqueId('clash');
  const bundle = await makeBundle({ args: ['httpid', '80', clash] });
  const attempt = engine.create(clash, bundle, { network: { net: 'bridge', publish: [`${hostPort}:80`] } });
  await expect(attempt).rejects.toThrow(`127.0.0.1:${hostPort}`);
  await expect(attempt).rejects.toThrow(`container ${a.record.id} publishes it`);
  expect(await engine.store.ids()).toEqual([a.record.id]);
  expect(await hostLinks()).not.toContain(hostVethName(engine.store, clash));
});

test('publishing a bound host port names its holder', async ({ engine, makeBundle, uniqueId, subnet }) => {
  const holder = createServer();
  const hostPort = await new Promise<number>((resolve) => holder.listen(0, '127.0.0.1', () => resolve((holder.address() as { port: number }).port)));
  try {
    const id = uniqueId('bound');
    const bundle = await makeBundle({ args: ['httpid', '80', id] });
    const attempt = engine.create(id, bundle, { network: { net: 'bridge', subnet, publish: [`${hostPort}:80`] } });
    await expect(attempt).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${hostPort}.*pid ${process.pid} \\(`));
    expect(await engine.store.ids()).toEqual([]);
  } finally {
    holder.close();
  }
});

const netAdmin = (spec: import('../../engine/spec/oci.js').Spec) => {
  for (const set of ['bounding', 'effective', 'permitted'] as const) spec.process!.capabilities![set]!.push('CAP_NET_ADMIN');
};

for (const shared of [false, true]) {
  test(`device change ${shared ? 'reaches a shared namespace (control)' : 'stays in its namespace'}`, async ({ engine, makeBundle, uniqueId, subnet, workDir }) => {
    const a = await startServer(engine, makeBundle, uniqueId('dev-a'), { subnet });
    expect(mtuIn(a.record.pid, 'eth0')).toBe(1500);
    const out = await outputFile(workDir, 'mtu');
    const bundle = await makeBundle({
      args: ['sh', '-c', 'ip link set dev eth0 mtu 1300 && ip link show dev eth0'],
      edit: (spec) => {
        netAdmin(spec);
        if (shared) {
          spec.linux!.namespaces = spec.linux!.namespaces!.map((ns) => (ns.type === 'network' ? { type: 'network', path: `/proc/${a.record.pid}/ns/net` } : ns));
          spec.mounts = spec.mounts!.filter((m) => m.type !== 'sysfs');
        }
      },
    });
    const exit = await engine.run(uniqueId('dev-b'), bundle, {
      stdio: ['ignore', out.fd, out.fd],
      ...(shared ? {} : { network: { net: 'bridge' } }),
    });
    expect(exit.exitCode).toBe(0);
    expect(mtuIn(a.record.pid, 'eth0')).toBe(shared ? 1300 : 1500);
  });
}

/** The host objects of one state root: its bridge, the veths of ids, its nftables tables. */
async function rootObjects(engine: Engine, ids: string[]) {
  const store = engine.store;
  const own = new Set([bridgeName(store), ...ids.map((id) => hostVethName(store, id))]);
  const tablePrefix = filterTableName(store);
  return {
    links: (await hostLinks()).filter((name) => own.has(name)),
    tables: nftTables().filter((t) => t.split(' ')[2]?.startsWith(tablePrefix)),
    networkFile: await fs.access(`${store.root}/.network.json`).then(() => true, () => false),
  };
}

test('delete and gc leave no network objects', async ({ engine, makeBundle, uniqueId, subnet }) => {
  const ids = [uniqueId('gone-a'), uniqueId('gone-b')];
  const a = await startServer(engine, makeBundle, ids[0], { subnet, publish: [`${await freePort()}:80`] });
  const b = await startServer(engine, makeBundle, ids[1], { subnet });
  const during = await rootObjects(engine, ids);
  expect(during.links).toHaveLength(3);
  expect(during.tables).toHaveLength(2);
  expect(during.networkFile).toBe(true);

  await engine.delete(a.record.id, true);
  // A simulated crash: the monitor and init die, and the engine never hears of it.
  process.kill(b.record.monitorPid, 'SIGKILL');
  process.kill(b.record.pid, 'SIGKILL');
  const report = await engine.gc();
  expect(report.containers).toEqual([b.record.id]);

  expect(await rootObjects(engine, ids)).toEqual({ links: [], tables: [], networkFile: false });
});

const badNetwork: Array<{ name: string; network: Record<string, unknown>; annotations?: Record<string, string>; expected: RegExp }> = [
  { name: 'subnet outside the range', network: { net: 'bridge', subnet: '10.0.0.0/24' }, expected: /subnet `10\.0\.0\.0\/24`.*198\.18\.0\.0\/15/ },
  { name: 'malformed subnet', network: { net: 'bridge', subnet: '198.18.0.0/ab' }, expected: /subnet `198\.18\.0\.0\/ab`/ },
  { name: 'host port 0', network: { net: 'bridge', publish: ['0:80'] }, expected: /isolab\.publish `0:80`.*1-65535/ },
  { name: 'host port 70000', network: { net: 'bridge', publish: ['70000:80'] }, expected: /isolab\.publish `70000:80`/ },
  { name: 'unknown network mode', network: { net: 'overlay' }, expected: /isolab\.network `overlay`/ },
  { name: 'unknown annotation value', network: {}, annotations: { 'isolab.network': 'macvlan' }, expected: /isolab\.network `macvlan`/ },
];

for (const bad of badNetwork) {
  test(`rejects ${bad.name}`, async ({ engine, makeBundle, uniqueId }) => {
    const id = uniqueId('badnet');
    const bundle = await makeBundle({ args: ['true'], edit: (spec) => { spec.annotations = { ...spec.annotations, ...bad.annotations }; } });
    await expect(engine.create(id, bundle, { network: bad.network })).rejects.toThrow(bad.expected);
    expect(await engine.store.ids()).toEqual([]);
    expect(await hostLinks()).not.toContain(hostVethName(engine.store, id));
  });
}

test('rejects a fixed address in use', async ({ engine, makeBundle, uniqueId, subnet }) => {
  const ip = subnet.replace(/0\/24$/, '7');
  const first = uniqueId('fixed-a');
  const bundle = await makeBundle({ args: ['sleep', '30'] });
  const record = await engine.create(first, bundle, { network: { net: 'bridge', subnet, ip } });
  expect(record.network!.address).toBe(ip);
  const second = uniqueId('fixed-b');
  await expect(engine.create(second, bundle, { network: { net: 'bridge', ip } })).rejects.toThrow(new RegExp(`isolab\\.ip \`${ip.replace(/\./g, '\\.')}\`.*${first}`));
  expect(await engine.store.ids()).toEqual([first]);
});
