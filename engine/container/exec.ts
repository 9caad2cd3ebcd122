import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import type { StdioOptions } from 'node:child_process';
import { IsolabError } from '../errors.js';
import { HelperSession } from '../native.js';
import type { StateStore, ContainerRecord } from '../state.js';
import { openCgroup } from '../cgroup/index.js';
import type { Cgroup } from '../cgroup/types.js';
import type { NamespaceType, Process } from '../spec/oci.js';
import { buildExecPlan, serializePlan } from '../spec/plan.js';
import { assertStatus, statusOf } from './status.js';

export interface ExecOptions {
  stdio?: StdioOptions;
  env?: string[];
  cwd?: string;
  user?: { uid: number; gid: number };
  /** Join only these namespaces (default: all of the container's). For control runs. */
  namespaces?: NamespaceType[];
  /** Leave the process in the caller's cgroup (default false). For control runs. */
  skipCgroup?: boolean;
  /**
   * Move the process into the cgroup by a plain cgroup.procs write, without
   * the pids.max check, as runtimes commonly do on cgroup v1. For control runs.
   */
  uncheckedMigration?: boolean;
  timeoutMs?: number;
}

/** The end of an exec'd process: its exit code or signal. */
export interface ExecResult {
  pid: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

/** A started exec: its host pid and a promise of its end. */
export interface ExecHandle {
  pid: number;
  session: HelperSession;
  done: Promise<ExecResult>;
}

/** Runs a process inside a running container's namespaces and cgroup. */
export async function execInContainer(
  store: StateStore,
  id: string,
  args: string[],
  options: ExecOptions = {},
): Promise<ExecHandle> {
  if (args.length === 0) {
    throw new IsolabError({ kind: 'invalid-input', op: 'exec in container', value: id, reason: 'no command given' });
  }
  const record = await store.read(id);
  assertStatus(id, 'exec in', await statusOf(store, record), ['running']);
  const cgroup = await openCgroup(record.cgroupPath);
  const planFile = path.join(store.dir(id), `exec-${randomBytes(6).toString('hex')}.plan`);
  const useClone3 = options.skipCgroup || options.uncheckedMigration ? undefined : cgroup.v2Dir();
  const plan = buildExecPlan(processFor(record, args, options), {
    targetPid: record.pid,
    namespaces: options.namespaces ?? (record.namespaces as NamespaceType[]),
    cgroupDir: useClone3,
  });
  await fs.writeFile(planFile, serializePlan(plan), { mode: 0o600 });

  const session = new HelperSession('exec', planFile, options.stdio);
  try {
    const [, pidText] = await session.expect('pid', options.timeoutMs ?? 10_000, `exec in container ${id}`);
    const pid = Number(pidText);
    if (options.uncheckedMigration) await cgroup.addProcess(pid);
    if (!options.skipCgroup && !options.uncheckedMigration && !useClone3) {
      const limit = await admitV1(store, id, cgroup, pid, session);
      if (limit !== undefined) throw pidsLimitReached(id, limit);
    } else {
      session.send('go');
    }
    await session.expect('exec', options.timeoutMs ?? 10_000, `exec in container ${id}`).catch(async (err: IsolabError) => {
      // clone3 into a v2 cgroup at pids.max fails with EAGAIN like any fork.
      if (err.errno === 11 && useClone3) throw pidsLimitReached(id, (await cgroup.stats()).pids?.limit ?? null);
      throw err;
    });
    const done = session.exited.then(({ code, signal }) => decodeExit(pid, code, signal));
    void done.finally(() => fs.rm(planFile, { force: true }));
    return { pid, session, done };
  } catch (err) {
    session.child.kill('SIGKILL');
    await fs.rm(planFile, { force: true });
    throw err;
  }
}

function pidsLimitReached(id: string, limit: number | null): IsolabError {
  return new IsolabError({
    kind: 'system', op: 'exec in container', value: id, errno: 11,
    reason: `its cgroup is at pids.max${limit === null ? '' : ` (${limit})`}`,
  });
}

/**
 * Moves an exec'd child into a cgroup v1 container; returns the pids limit
 * when it is reached and the exec was aborted. Migration ignores
 * pids.max (pids_can_attach charges without checking), so the engine checks
 * the limit itself with the container frozen and the container lock held:
 * frozen processes cannot fork, and the lock orders concurrent execs.
 */
async function admitV1(
  store: StateStore,
  id: string,
  cgroup: Cgroup,
  pid: number,
  session: HelperSession,
): Promise<number | undefined> {
  const lock = await store.lock(id);
  try {
    const wasFrozen = await cgroup.isFrozen();
    if (!wasFrozen) await cgroup.freeze();
    try {
      const pids = (await cgroup.stats()).pids;
      if (pids && pids.limit !== null && pids.current >= pids.limit) {
        session.send('abort', '11');
        return pids.limit;
      }
      await cgroup.addProcess(pid);
    } finally {
      if (!wasFrozen) await cgroup.thaw();
    }
    session.send('go');
    return undefined;
  } finally {
    lock.release();
  }
}

const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(osConstants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/**
 * Decodes the exec helper's exit: it exits with the process's code, or with
 * 128 + N when signal N ended the process, as a shell does. A process that
 * itself exits with 129 to 192 is therefore reported as killed by a signal.
 */
function decodeExit(pid: number, code: number | null, signal: NodeJS.Signals | null): ExecResult {
  if (signal) return { pid, exitCode: null, signal };
  if (code !== null && code > 128 && signalNames.has(code - 128)) {
    return { pid, exitCode: null, signal: signalNames.get(code - 128)! };
  }
  return { pid, exitCode: code, signal: null };
}

function processFor(record: ContainerRecord, args: string[], options: ExecOptions): Process {
  const base = record.spec.process;
  return {
    ...base,
    args,
    env: [...(base?.env ?? []), ...(options.env ?? [])],
    cwd: options.cwd ?? base?.cwd ?? '/',
    user: options.user ?? base?.user ?? { uid: 0, gid: 0 },
    terminal: false,
  };
}

/** Runs a process in a container and waits for it to end. */
export async function execAndWait(
  store: StateStore,
  id: string,
  args: string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  return (await execInContainer(store, id, args, options)).done;
}
