// The state directory: one folder per container under the root (default
// /run/isolab), and a lock file per container under <root>/.locks.
import { promises as fs, openSync, closeSync, fstatSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { IsolabError } from './errors.js';
import { flockExclusive, flockRelease } from './sys.js';
import type { Spec } from './spec/oci.js';
import type { NetworkState } from './network/index.js';

export const DEFAULT_ROOT = '/run/isolab';

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Throws unless id is a valid container id: [A-Za-z0-9][A-Za-z0-9_.-]{0,63}. */
export function validateId(id: string): void {
  if (!ID_PATTERN.test(id)) {
    throw new IsolabError({
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

/** The first record of a container, written before anything else is made for it. */
export interface IntentRecord {
  id: string;
  cgroupPath: string;
  bundle: string;
  created: string;
}

// Files that mark what the engine made: a root has ROOT_MARKER, a container
// directory has INTENT_FILE from the first step of create. The engine
// removes nothing that lacks its marker, so a wrong --root cannot cost files.
const ROOT_MARKER = '.isolab-root';
const INTENT_FILE = 'intent.json';
const LOCK_DIR = '.locks';

/** Access to one state root. */
export class StateStore {
  /** The cgroup parent this root's containers get by default. */
  readonly cgroupParent: string;

  constructor(readonly root: string = DEFAULT_ROOT) {
    this.cgroupParent = cgroupParentFor(root);
  }

  /** Returns a container's directory; throws on an invalid id, so no id can leave the root. */
  dir(id: string): string {
    validateId(id);
    return path.join(this.root, id);
  }

  /** Creates the root with its marker, or checks the marker of an existing one. */
  async ensureRoot(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o711 });
    await this.checkRoot();
    await fs.writeFile(path.join(this.root, ROOT_MARKER), 'isolab state root\n', { flag: 'a' });
  }

  /**
   * Throws unless the root is missing, empty, marked as made by isolab, or
   * holds only what the engine makes (roots from before the marker existed).
   */
  async checkRoot(): Promise<void> {
    const entries = await fs.readdir(this.root).catch(() => [] as string[]);
    if (entries.length === 0 || entries.includes(ROOT_MARKER)) return;
    if (await this.onlyEngineEntries(entries)) return;
    throw new IsolabError({
      kind: 'invalid-input',
      op: 'use state root',
      value: this.root,
      reason: `it is not empty and has no ${ROOT_MARKER}, so isolab did not make it; choose another --root`,
    });
  }

  private async onlyEngineEntries(entries: string[]): Promise<boolean> {
    for (const name of entries) {
      if (name === LOCK_DIR || name === 'locks' || name === '.network.json') continue;
      const dir = path.join(this.root, name);
      const marked = await Promise.any(
        [INTENT_FILE, 'state.json'].map((file) => fs.access(path.join(dir, file))),
      ).then(() => true, () => false);
      if (!marked) return false;
    }
    return true;
  }

  /**
   * Takes a per-container lock, waiting for other engine calls on the same
   * id. Names starting with a dot are the engine's own locks, such as the
   * network lock.
   */
  async lock(id: string): Promise<Lock> {
    if (!id.startsWith('.')) validateId(id);
    await this.ensureRoot();
    const dir = path.join(this.root, LOCK_DIR);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    return (await lockFile(path.join(dir, `${id}.lock`)))!;
  }

  /** Takes the lock only if it is free; returns undefined while another call holds it. */
  async tryLock(id: string): Promise<Lock | undefined> {
    validateId(id);
    await this.ensureRoot();
    const dir = path.join(this.root, LOCK_DIR);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    return lockFile(path.join(dir, `${id}.lock`), false);
  }

  async exists(id: string): Promise<boolean> {
    return fs.access(path.join(this.dir(id), 'state.json')).then(() => true, () => false);
  }

  async read(id: string): Promise<ContainerRecord> {
    const file = path.join(this.dir(id), 'state.json');
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch {
      throw new IsolabError({ kind: 'not-found', op: 'find container', value: id, reason: 'no such container' });
    }
    try {
      return JSON.parse(text) as ContainerRecord;
    } catch (err) {
      throw new IsolabError({
        kind: 'system', op: 'read container state', value: file,
        reason: `${(err as Error).message}; \`delete -f ${id}\` still removes the container`,
      });
    }
  }

  async write(record: ContainerRecord): Promise<void> {
    await writeAtomic(path.join(this.dir(record.id), 'state.json'), JSON.stringify(record, null, 2));
  }

  /** Makes a container's directory and its intent record, the first step of create. */
  async writeIntent(intent: IntentRecord): Promise<void> {
    await this.ensureRoot();
    // 0711: with a user namespace, container root must be able to reach the
    // overlay layers below the state directory, but not list it.
    await fs.mkdir(this.dir(intent.id), { mode: 0o711 });
    await writeAtomic(path.join(this.dir(intent.id), INTENT_FILE), JSON.stringify(intent));
  }

  async readIntent(id: string): Promise<IntentRecord | undefined> {
    try {
      return JSON.parse(await fs.readFile(path.join(this.dir(id), INTENT_FILE), 'utf8')) as IntentRecord;
    } catch {
      return undefined;
    }
  }

  async readExit(id: string): Promise<ExitRecord | undefined> {
    try {
      return JSON.parse(await fs.readFile(path.join(this.dir(id), 'exit.json'), 'utf8')) as ExitRecord;
    } catch {
      return undefined;
    }
  }

  /** Lists the ids whose directory the engine made (it has an intent record), complete or not. */
  async ids(): Promise<string[]> {
    const entries = await fs.readdir(this.root, { withFileTypes: true }).catch(() => []);
    const ids: string[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || !ID_PATTERN.test(entry.name)) continue;
      if (await fs.access(path.join(this.root, entry.name, INTENT_FILE)).then(() => true, () => false)) {
        ids.push(entry.name);
      }
    }
    return ids.sort();
  }

  /**
   * Removes a container's directory, if the engine made it, and its lock
   * file. The caller holds the lock; lockFile notices the unlinked file.
   */
  async remove(id: string): Promise<void> {
    const dir = this.dir(id);
    const made = await fs.access(path.join(dir, INTENT_FILE)).then(() => true, () => false);
    if (made) await fs.rm(dir, { recursive: true, force: true });
    await fs.rm(path.join(this.root, LOCK_DIR, `${id}.lock`), { force: true });
  }
}

/**
 * Takes an flock on file. A remover unlinks the file while holding the lock,
 * so after locking, the descriptor must still be the file at that path;
 * otherwise another caller may hold a lock on a new file and this one retries.
 */
async function lockFile(file: string, wait = true): Promise<Lock | undefined> {
  for (;;) {
    const fd = openSync(file, 'a', 0o600);
    // flock blocks the thread that calls it, so poll without blocking instead
    // of stalling Node's event loop while another engine call holds the lock.
    let delay = 1;
    while (!flockExclusive(fd, false)) {
      if (!wait) {
        closeSync(fd);
        return undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 20);
    }
    const current = statSyncOrUndefined(file);
    if (current && current.ino === fstatSync(fd).ino) {
      return {
        release() {
          flockRelease(fd);
          closeSync(fd);
        },
      };
    }
    flockRelease(fd);
    closeSync(fd);
  }
}

function statSyncOrUndefined(file: string): { ino: number } | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}

/** Writes a file by writing a temporary one beside it and renaming it over. */
export async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await fs.writeFile(tmp, text, { mode: 0o600 });
  await fs.rename(tmp, file);
}
