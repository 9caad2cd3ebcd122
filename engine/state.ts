// The state directory: one folder per container under the root (default
// /run/isolab), and a lock file per container under <root>/locks.
import { promises as fs, openSync, closeSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { EngineError } from './errors.js';
import { flockExclusive, flockRelease } from './sys.js';
import type { Spec } from './spec/oci.js';
import type { NetworkState } from './network/index.js';

export const DEFAULT_ROOT = '/run/isolab';

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Throws unless id is a valid container id: [A-Za-z0-9][A-Za-z0-9_.-]{0,63}. */
export function validateId(id: string): void {
  if (!ID_PATTERN.test(id)) {
    throw new EngineError({
      kind: 'invalid-input',
      op: 'accept container id',
      value: id,
      reason: 'an id is 1 to 64 characters from [A-Za-z0-9_.-] and starts with a letter or digit',
    });
  }
}

/** The record the engine keeps of a container from create to delete. */
export interface ContainerRecord {
  ociVersion: string;
  id: string;
  bundle: string;
  rootfs: string;
  created: string;
  /** Host pid of the container's init and its start time in clock ticks since boot. */
  pid: number;
  pidStartTime: number;
  monitorPid: number;
  monitorStartTime: number;
  cgroupPath: string;
  /** cgroup paths this container's create made, which delete may remove when empty. */
  cgroupCreated: string[];
  /** OCI types of the namespaces the container has (new or joined), which exec joins. */
  namespaces: string[];
  annotations: Record<string, string>;
  /** The container's network, as set up at create. */
  network?: NetworkState;
  /** Warnings to show in `state`, such as memory protection that is not passed down. */
  warnings: string[];
  spec: Spec;
}

/** Exit record written by the monitor when init ends. */
export interface ExitRecord {
  pid: number;
  exitCode: number | null;
  signal: number | null;
  oomKills: number | null;
  finishedAt: string;
}

/** Returns the start time (field 22 of /proc/PID/stat), or undefined when the pid is gone. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in field 2 may contain spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z') return undefined;
    return Number(rest[19]);
  } catch {
    return undefined;
  }
}

/** Returns true while pid is the same live process that started at startTime. */
export function isAlive(pid: number, startTime: number): boolean {
  return pid > 0 && processStartTime(pid) === startTime;
}

/** A held flock; release() closes the lock file's descriptor. */
export interface Lock { release(): void }

/**
 * Returns the cgroup parent of containers whose spec sets no
 * linux.cgroupsPath: `isolab` for the default root, and `isolab-<hash>` for
 * any other root, so that gc in one root never touches another root's
 * containers.
 */
export function cgroupParentFor(root: string): string {
  const resolved = path.resolve(root);
  if (resolved === DEFAULT_ROOT) return 'isolab';
  return `isolab-${createHash('sha256').update(resolved).digest('hex').slice(0, 10)}`;
}

/** Access to one state root. */
export class StateStore {
  /** The cgroup parent this root's containers get by default. */
  readonly cgroupParent: string;

  constructor(readonly root: string = DEFAULT_ROOT) {
    this.cgroupParent = cgroupParentFor(root);
  }

  dir(id: string): string {
    return path.join(this.root, id);
  }

  /** Takes the per-container lock, waiting for other engine calls on the same id. */
  async lock(id: string): Promise<Lock> {
    await fs.mkdir(path.join(this.root, 'locks'), { recursive: true, mode: 0o700 });
    return lockFile(path.join(this.root, 'locks', `${id}.lock`));
  }

  async exists(id: string): Promise<boolean> {
    try {
      await fs.access(path.join(this.dir(id), 'state.json'));
      return true;
    } catch {
      return false;
    }
  }

  async read(id: string): Promise<ContainerRecord> {
    const file = path.join(this.dir(id), 'state.json');
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch {
      throw new EngineError({ kind: 'not-found', op: 'find container', value: id, reason: 'no such container' });
    }
    return JSON.parse(text) as ContainerRecord;
  }

  async write(record: ContainerRecord): Promise<void> {
    await writeAtomic(path.join(this.dir(record.id), 'state.json'), JSON.stringify(record, null, 2));
  }

  async readExit(id: string): Promise<ExitRecord | undefined> {
    try {
      return JSON.parse(await fs.readFile(path.join(this.dir(id), 'exit.json'), 'utf8')) as ExitRecord;
    } catch {
      return undefined;
    }
  }

  /** Lists the ids that have a state directory, complete or not. */
  async ids(): Promise<string[]> {
    let entries: string[];
    try {
      entries = await fs.readdir(this.root);
    } catch {
      return [];
    }
    return entries.filter((name) => name !== 'locks' && ID_PATTERN.test(name)).sort();
  }

  async remove(id: string): Promise<void> {
    await fs.rm(this.dir(id), { recursive: true, force: true });
    await fs.rm(path.join(this.root, 'locks', `${id}.lock`), { force: true });
  }
}

async function lockFile(file: string): Promise<Lock> {
  const fd = openSync(file, 'a', 0o600);
  // flock blocks the thread that calls it, so poll without blocking instead of
  // stalling Node's event loop while another engine call holds the lock.
  for (let delay = 1; !flockExclusive(fd, false); delay = Math.min(delay * 2, 20)) {
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  return {
    release() {
      flockRelease(fd);
      closeSync(fd);
    },
  };
}

/** Writes a file by writing a temporary one beside it and renaming it over. */
export async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, text, { mode: 0o600 });
  await fs.rename(tmp, file);
}
