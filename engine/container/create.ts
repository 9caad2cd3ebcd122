import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { StdioOptions } from 'node:child_process';
import { IsolabError, fromSystemError } from '../errors.js';
import { HelperSession } from '../native.js';
import { processStartTime, validateId, type ContainerRecord, type StateStore } from '../state.js';
import { openCgroup } from '../cgroup/index.js';
import { defaultDeviceRuleSteps } from '../cgroup/devices.js';
import type { Cgroup } from '../cgroup/types.js';
import type { IdMapping, Spec } from '../spec/oci.js';
import { loadBundle } from '../spec/validate.js';
import { prepareOverlayDirs } from '../spec/rootfs.js';
import { buildCreatePlan, serializePlan } from '../spec/plan.js';
import { mkfifo } from '../sys.js';
import { networkRequest, setupNetwork, teardownNetwork, type NetworkOptions, type NetworkRequest } from '../network/index.js';

export interface CreateOptions {
  /** stdio of the container's process; defaults to 'ignore' (the helper's /dev/null). */
  stdio?: StdioOptions;
  /** File to write the init's host pid into, as `runc create --pid-file`. */
  pidFile?: string;
  /** How long the helper may take from spawn to `ready`. */
  timeoutMs?: number;
  /** Overrides of the isolab.network, isolab.ip and isolab.publish annotations, and the bridge's subnet. */
  network?: NetworkOptions;
  /**
   * Leaves device access unrestricted: no v1 device rules and no v2 device
   * filter. Only for control runs, which show what the rules prevent.
   */
  unrestrictedDevices?: boolean;
}

/** A created container whose helper is still attached, for `run` to wait on. */
export interface CreatedContainer {
  record: ContainerRecord;
  session: HelperSession;
}

/** Returns the cgroup path: linux.cgroupsPath relative to each hierarchy's root, or PARENT/ID. */
export function cgroupPathFor(store: StateStore, id: string, spec: Spec): string {
  const requested = spec.linux?.cgroupsPath;
  if (requested === undefined) return `${store.cgroupParent}/${id}`;
  const relative = requested.replace(/^\/+/, '').replace(/\/+$/, '');
  if (!relative) {
    throw new IsolabError({
      kind: 'invalid-input', op: 'accept linux.cgroupsPath', value: requested,
      reason: 'it must name a cgroup below the hierarchy root, such as /isolab/web1',
    });
  }
  return relative;
}

/** Creates a container from a bundle; init waits on its exec fifo until `start`. */
export async function createContainer(
  store: StateStore,
  id: string,
  bundle: string,
  options: CreateOptions = {},
): Promise<CreatedContainer> {
  validateId(id);
  const lock = await store.lock(id);
  try {
    if ((await store.exists(id)) || (await dirExists(store.dir(id)))) {
      throw new IsolabError({ kind: 'already-exists', op: 'create container', value: id, reason: 'the id is in use' });
    }
    const spec = await loadBundle(bundle);
    // Parsed before anything is made, so bad network input leaves nothing behind.
    const network = networkRequest(spec, options.network);
    return await createLocked(store, id, path.resolve(bundle), spec, network, options);
  } finally {
    lock.release();
  }
}

async function createLocked(
  store: StateStore,
  id: string,
  bundle: string,
  spec: Spec,
  networkRequest: NetworkRequest,
  options: CreateOptions,
): Promise<CreatedContainer> {
  const stateDir = store.dir(id);
  let cgroup: Cgroup | undefined;
  let session: HelperSession | undefined;
  let networkStarted = false;
  const cgroupPath = cgroupPathFor(store, id, spec);
  await rejectSharedCgroup(store, cgroupPath);
  await store.writeIntent({ id, cgroupPath, bundle, created: new Date().toISOString() });
  try {
    if (spec.annotations?.['isolab.rootfs'] === 'overlay') await prepareOverlayDirs(stateDir, spec);
    cgroup = await openCgroup(cgroupPath);
    rejectUncontrolledDevices(spec, cgroup);
    await cgroup.create({ restrictDevices: !options.unrestrictedDevices });
    await cgroup.apply(spec.linux?.resources ?? {});
    const warnings = await cgroup.protectionWarnings();

    const execFifo = path.join(stateDir, 'exec.fifo');
    mkfifo(execFifo, 0o600);
    const planFile = path.join(stateDir, 'plan');
    const deviceFilter = options.unrestrictedDevices ? undefined : cgroup.deviceFilterDir?.();
    const steps = buildCreatePlan(spec, {
      bundle, stateDir, execFifo, oomFile: oomFileOf(cgroup),
      ...(deviceFilter ? { deviceFilter, deviceRules: defaultDeviceRuleSteps() } : {}),
    });
    await fs.writeFile(planFile, serializePlan(steps), { mode: 0o600 });

    session = new HelperSession('create', planFile, options.stdio);
    const timeout = options.timeoutMs ?? 10_000;
    const [, pidText] = await session.expect('pid', timeout, `create container ${id}`);
    const pid = Number(pidText);
    await writeIdMaps(pid, spec);
    networkStarted = true;
    const network = await setupNetwork(store, id, pid, networkRequest);
    await cgroup.addProcess(pid);
    session.send('go');
    await session.expect('ready', timeout, `create container ${id}`);

    const record = recordOf(id, bundle, spec, pid, session.child.pid ?? 0, cgroup, warnings);
    record.network = network;
    await store.write(record);
    if (options.pidFile) {
      await fs.writeFile(options.pidFile, String(pid)).catch((err) => {
        throw fromSystemError('write pid file', options.pidFile!, err);
      });
    }
    return { record, session };
  } catch (err) {
    const oomKilled = cgroup ? await oomKillsOf(cgroup) > 0 : false;
    if (networkStarted) await teardownNetwork(store, id).catch(() => undefined);
    await rollback(store, id, cgroup, session);
    if (oomKilled) {
      throw new IsolabError({
        kind: 'invalid-input', op: 'create container', value: id, cause: err,
        reason: 'the OOM killer ended init during set-up; raise linux.resources.memory.limit',
      });
    }
    throw err;
  }
}

/**
 * Without device rules, CAP_MKNOD would let a container make and open any
 * host device, so a spec that keeps it is rejected where the engine cannot
 * restrict devices.
 */
function rejectUncontrolledDevices(spec: Spec, cgroup: Cgroup): void {
  if (cgroup.controlsDevices) return;
  const caps = spec.process?.capabilities ?? {};
  const sets = Object.entries(caps).filter(([, names]) => (names as string[] | undefined)?.includes('CAP_MKNOD'));
  if (sets.length === 0) return;
  throw new IsolabError({
    kind: 'unsupported',
    op: 'accept process.capabilities',
    value: `CAP_MKNOD in ${sets.map(([set]) => set).join(', ')}`,
    reason: 'this host has neither a v1 devices hierarchy nor a cgroup2 directory for the device filter; drop CAP_MKNOD',
  });
}

async function oomKillsOf(cgroup: Cgroup): Promise<number> {
  const stats = await cgroup.stats().catch(() => undefined);
  return stats?.memory?.events.oom_kill ?? 0;
}

/**
 * Rejects a cgroup that another container or process uses: the root's own
 * parent, or an existing cgroup with processes or child cgroups. Two
 * containers in one cgroup would share limits, and delete of one would kill
 * the other.
 */
async function rejectSharedCgroup(store: StateStore, cgroupPath: string): Promise<void> {
  const reject = (reason: string) => new IsolabError({ kind: 'already-exists', op: 'use cgroup', value: cgroupPath, reason });
  if (`${store.cgroupParent}/`.startsWith(`${cgroupPath}/`)) {
    throw reject(`it is the parent of this root's containers (${store.cgroupParent})`);
  }
  const cgroup = await openCgroup(cgroupPath);
  const busy = (await cgroup.pids().catch(() => [])).length > 0;
  let children = false;
  for (const controller of ['memory', 'pids', 'cpu', 'freezer'] as const) {
    const dir = cgroup.dirOf(controller);
    const entries = dir ? await fs.readdir(dir, { withFileTypes: true }).catch(() => []) : [];
    if (entries.some((entry) => entry.isDirectory())) children = true;
  }
  if (busy || children) throw reject('it already has processes or child cgroups');
}

function oomFileOf(cgroup: Cgroup): string | undefined {
  const dir = cgroup.dirOf('memory');
  if (!dir) return undefined;
  return path.join(dir, cgroup.controllers.get('memory') === 2 ? 'memory.events' : 'memory.oom_control');
}

function recordOf(
  id: string,
  bundle: string,
  spec: Spec,
  pid: number,
  monitorPid: number,
  cgroup: Cgroup,
  warnings: string[],
): ContainerRecord {
  return {
    ociVersion: spec.ociVersion,
    id,
    bundle,
    rootfs: path.resolve(bundle, spec.root?.path ?? 'rootfs'),
    created: new Date().toISOString(),
    pid,
    pidStartTime: processStartTime(pid) ?? 0,
    monitorPid,
    monitorStartTime: processStartTime(monitorPid) ?? 0,
    cgroupPath: cgroup.path,
    cgroupCreated: [...(cgroup.createdPaths ?? [])],
    namespaces: (spec.linux?.namespaces ?? []).map((ns) => ns.type),
    annotations: spec.annotations ?? {},
    warnings,
    spec,
  };
}

/** Writes uid_map and gid_map for a child in a new user namespace. */
async function writeIdMaps(pid: number, spec: Spec): Promise<void> {
  const hasUserNs = spec.linux?.namespaces?.some((ns) => ns.type === 'user' && !ns.path);
  if (!hasUserNs) return;
  const format = (maps: IdMapping[] | undefined) =>
    (maps ?? []).map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
  for (const [file, maps] of [['uid_map', spec.linux?.uidMappings], ['gid_map', spec.linux?.gidMappings]] as const) {
    const target = `/proc/${pid}/${file}`;
    try {
      await fs.writeFile(target, format(maps));
    } catch (err) {
      throw fromSystemError(`write ${file}`, target, err);
    }
  }
}

/** Undoes a half-made create: the helper, the cgroup and the state directory. */
async function rollback(
  store: StateStore,
  id: string,
  cgroup: Cgroup | undefined,
  session: HelperSession | undefined,
): Promise<void> {
  if (session && session.child.exitCode === null && session.child.signalCode === null) {
    session.child.kill('SIGKILL');
  }
  if (cgroup) {
    await cgroup.killAll(5000).catch(() => undefined);
    await cgroup.destroy().catch(() => undefined);
  }
  if (session) await Promise.race([session.exited, new Promise((r) => setTimeout(r, 2000))]);
  await store.remove(id);
}

async function dirExists(dir: string): Promise<boolean> {
  return fs.stat(dir).then((s) => s.isDirectory(), () => false);
}
