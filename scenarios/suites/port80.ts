// Port-80 clash: two containers bind port 80, each in its own network
// namespace on the engine's bridge, and answer HTTP requests with their own
// id; the guest's own port 80 stays as it was. Control: the victim joins the
// offender's network namespace and its bind fails with EADDRINUSE.
import type { StdioOptions } from 'node:child_process';
import { statSync, promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { buildSpec, bundleDir, writeSpec } from '../framework/bundle.js';
import { atLeast, atMost } from '../framework/checks.js';
import { pollUntil, pollUntilSettled } from '../framework/poll.js';
import type {
  CheckResult, Phase, PhaseResult, Scenario, ScenarioContext, Series,
} from '../framework/types.js';
import { scenarios } from './index.js';

/** The port both containers bind. */
const PORT = 80;
/** Bridge subnet inside 198.18.0.0/15 (RFC 2544) that no other scenario uses. */
const SUBNET = '198.18.200.0/24';
/** HTTP requests sent to each container. Every response body must be the container's id. */
const REQUESTS = 5;
/** Bound on httpid printing "listening on" or "bind failed", in ms (TCG start-up included). */
const BIND_TIMEOUT_MS = 15_000;
/** Bound on one HTTP request, in ms. */
const REQUEST_TIMEOUT_MS = 3_000;

/** A started httpid container. */
interface Server {
  id: string;
  pid: number;
  /** Its bridge address, or for a joined namespace the address of the namespace's owner. */
  address: string;
  /** Inode of /proc/PID/ns/net, read before start. */
  netns: number;
  /** httpid's first line: "listening on 80" or "bind failed: <reason>". */
  bindLine: string;
}

/** The guest's own port 80: listening sockets in its network namespace and a bind attempt. */
interface GuestPort { listeners: number; bind: string }

/** Counts sockets in LISTEN state on `port` in /proc/net/tcp and tcp6 of this process's netns. */
async function guestListeners(port: number): Promise<number> {
  let count = 0;
  for (const file of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1]?.split(':')[1];
      // State 0A is TCP_LISTEN (include/net/tcp_states.h).
      if (local && parseInt(local, 16) === port && fields[3] === '0A') count++;
    }
  }
  return count;
}

/** Binds port on 127.0.0.1 in the guest and closes it again. Returns 'ok' or the error code. */
function bindOnGuest(port: number): Promise<string> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ port, host: '127.0.0.1', exclusive: true },
      () => server.close(() => resolve('ok')));
  });
}

/** Reads the guest's port state until two reads in a row agree. */
async function guestPort(): Promise<GuestPort> {
  const read = async () => ({
    listeners: await guestListeners(PORT),
    bind: await bindOnGuest(PORT),
  });
  return (await pollUntilSettled(read, { timeoutMs: 2000, intervalMs: 50 })).value;
}

/** Sends GET / and returns the body, or '' when the request fails. */
function getBody(address: string): Promise<string> {
  return new Promise((resolve) => {
    const options = { host: address, port: PORT, path: '/', timeout: REQUEST_TIMEOUT_MS };
    const request = http.get(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', () => resolve(''));
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', () => resolve(''));
  });
}

/**
 * Creates and starts `${prefix}-${name}` running `httpid 80 ID`, on the
 * bridge or in the network namespace of `joinNetOf`, and waits for httpid's
 * first line.
 */
async function startServer(
  ctx: ScenarioContext,
  name: string,
  joinNetOf?: Server,
): Promise<Server> {
  const id = `${ctx.prefix}-${name}`;
  const spec = buildSpec({
    rootfs: ctx.rootfs,
    args: ['httpid', String(PORT), id],
    cgroupsPath: `${ctx.capParent}/${id}`,
    joinPaths: joinNetOf ? { network: `/proc/${joinNetOf.pid}/ns/net` } : undefined,
  });
  // sysfs may be mounted only by the owner of the network namespace.
  if (joinNetOf) spec.mounts = spec.mounts!.filter((m) => m.type !== 'sysfs');
  const dir = await writeSpec(bundleDir(ctx, id), spec);

  const outFile = path.join(ctx.workDir, `${id}.out`);
  const out = await fs.open(outFile, 'w');
  try {
    const network = joinNetOf ? undefined : { net: 'bridge', subnet: SUBNET };
    const stdio: StdioOptions = ['ignore', out.fd, out.fd];
    const record = await ctx.engine.create(id, dir, { stdio, network });
    const netns = statSync(`/proc/${record.pid}/ns/net`).ino;
    await ctx.engine.start(id);
    const line = await pollUntil(
      async () => (await fs.readFile(outFile, 'utf8')).split('\n')[0] ?? '',
      (first) => first.startsWith('listening on') || first.startsWith('bind failed'),
      { timeoutMs: BIND_TIMEOUT_MS, intervalMs: 50 },
    );
    const address = record.network?.address ?? joinNetOf?.address ?? '';
    return { id, pid: record.pid, address, netns, bindLine: line.met ? line.value : 'no output' };
  } finally {
    // The container has its own copy of the descriptor.
    await out.close();
  }
}

/** Sends REQUESTS requests and returns how many response bodies were `server`'s id. */
async function countOwnAnswers(server: Server, origin: number, series: Series): Promise<number> {
  let own = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const body = await getBody(server.address);
    const correct = body.trim() === server.id ? 1 : 0;
    series.push([Math.round(performance.now() - origin), correct]);
    own += correct;
  }
  return own;
}

/** Returns 1 when httpid bound the port, 0 when it printed anything else. */
function bound(server: Server): number {
  return server.bindLine.startsWith('listening on') ? 1 : 0;
}

/** Counts how many of the given namespace inodes equal the server's. */
function sharedWith(server: Server, others: number[]): number {
  return others.filter((ino) => ino === server.netns).length;
}

function serverChecks(
  role: string,
  server: Server,
  own: number,
  neighbours: number[],
): CheckResult[] {
  return [
    atLeast(`${role} binds port ${PORT} without EADDRINUSE`, bound(server), 1),
    atLeast(`${role} answers all ${REQUESTS} requests with its own id`, own, REQUESTS),
    atMost(`${role}'s network namespace differs from the guest's and its neighbour's`,
      sharedWith(server, neighbours), 0),
  ];
}

/** Observations of one phase: the servers, their responses and the guest's port over time. */
interface Observation {
  victim: Server;
  offender: Server | undefined;
  victimOwn: number;
  offenderOwn: number;
  guest: { before: GuestPort; during: GuestPort; after: GuestPort };
}

async function observe(
  ctx: ScenarioContext,
  phase: Phase,
  origin: number,
  samples: Record<string, Series>,
): Promise<Observation> {
  const before = await guestPort();
  // The offender binds first, so in the control the victim is the one that
  // finds the port taken.
  const offender = phase === 'baseline' ? undefined : await startServer(ctx, 'offender');
  const victim = await startServer(ctx, 'victim', phase === 'control' ? offender : undefined);
  const during = await guestPort();
  const victimOwn = await countOwnAnswers(victim, origin, samples.victimOwnAnswers);
  const offenderOwn = offender
    ? await countOwnAnswers(offender, origin, samples.offenderOwnAnswers)
    : 0;
  for (const server of [victim, offender]) {
    if (server) await ctx.engine.delete(server.id, true);
  }
  const after = await guestPort();
  return { victim, offender, victimOwn, offenderOwn, guest: { before, during, after } };
}

function metricsOf(seen: Observation, guestNetns: number): PhaseResult['metrics'] {
  const { victim, offender, guest } = seen;
  return {
    PORT, SUBNET, REQUESTS, BIND_TIMEOUT_MS, REQUEST_TIMEOUT_MS,
    victimBind: victim.bindLine,
    victimEaddrinuse: victim.bindLine.includes('Address already in use'),
    victimAddress: victim.address,
    victimNetns: victim.netns,
    offenderBind: offender?.bindLine ?? null,
    offenderAddress: offender?.address ?? null,
    offenderNetns: offender?.netns ?? null,
    guestNetns,
    guestListenersBefore: guest.before.listeners,
    guestBindBefore: guest.before.bind,
    guestListenersDuring: guest.during.listeners,
    guestBindDuring: guest.during.bind,
    guestListenersAfter: guest.after.listeners,
    guestBindAfter: guest.after.bind,
  };
}

async function run(ctx: ScenarioContext, phase: Phase): Promise<PhaseResult> {
  const origin = performance.now();
  const guestNetns = statSync('/proc/self/ns/net').ino;
  const samples: Record<string, Series> = { victimOwnAnswers: [], offenderOwnAnswers: [] };
  const seen = await observe(ctx, phase, origin, samples);
  const { victim, offender, guest } = seen;
  const changed = [guest.during, guest.after]
    .filter((s) => s.listeners !== guest.before.listeners || s.bind !== guest.before.bind);

  const neighbours = [guestNetns, ...(offender ? [offender.netns] : [])];
  const checks = [
    ...serverChecks('victim', victim, seen.victimOwn, neighbours),
    atMost(`guest's own port ${PORT} is unchanged while and after containers bind it`,
      changed.length, 0),
  ];
  const offenderChecks = offender
    ? serverChecks('offender', offender, seen.offenderOwn, [guestNetns, victim.netns])
    : [];
  return {
    scenario: 'port80',
    phase,
    checks,
    offenderChecks,
    metrics: metricsOf(seen, guestNetns),
    samples,
    wallMs: Math.round(performance.now() - origin),
  };
}

export const port80: Scenario = {
  name: 'port80',
  title: 'Port-80 clash: two containers bind port 80 in their own network namespaces',
  run,
};

scenarios.push(port80);
