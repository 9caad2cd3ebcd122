import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { StdioOptions } from 'node:child_process';
import { EngineError, fromSystemError } from '../errors.js';
import { HelperSession } from '../native.js';
import { processStartTime, validateId, type ContainerRecord, type StateStore } from '../state.js';
import { openCgroup } from '../cgroup/index.js';
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
}

/** A created container whose helper is still attached, for `run` to wait on. */
export interface CreatedContainer {
  record: ContainerRecord;
  session: HelperSession;
}

/** Returns the cgroup path: linux.cgroupsPath relative to each hierarchy's root, or PARENT/ID. */
export function cgroupPathFor(store: StateStore, id: string, spec: Spec): string {
  const requested = spec.linux?.cgroupsPath;
  return requested ? requested.replace(/^\/+/, '') : `${store.cgroupParent}/${id}`;
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
      throw new EngineError({ kind: 'already-exists', op: 'create container', value: id, reason: 'the id is in use' });
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
  try {
    // 0711: with a user namespace, container root must be able to reach the
    // overlay layers below the state directory, but not list it.
    await fs.mkdir(stateDir, { recursive: true, mode: 0o711 });
    if (spec.annotations?.['isolab.rootfs'] === 'overlay') await prepareOverlayDirs(stateDir, spec);
    cgroup = await openCgroup(cgroupPathFor(store, id, spec));
    await cgroup.create();
    await cgroup.apply(spec.linux?.resources ?? {});
    const warnings = await cgroup.protectionWarnings();

    const execFifo = path.join(stateDir, 'exec.fifo');
    mkfifo(execFifo, 0o600);
    const planFile = path.join(stateDir, 'plan');
    const steps = buildCreatePlan(spec, { bundle, stateDir, execFifo, oomFile: oomFileOf(cgroup) });
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
    if (options.pidFile) await fs.writeFile(options.pidFile, String(pid));
    return { record, session };
  } catch (err) {
    if (networkStarted) await teardownNetwork(store, id).catch(() => undefined);
    await rollback(store, id, cgroup, session);
    throw err;
  }
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
