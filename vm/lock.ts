// A lock between processes: a directory that holds the owner's pid. A lock
// whose owner is gone is taken over.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { IsolabError } from '../engine/errors.js';

/** Runs work while holding the lock at lockPath, waiting up to timeoutMs for it. */
export async function withLock<T>(lockPath: string, timeoutMs: number, work: () => Promise<T>): Promise<T> {
  await fs.mkdir(path.dirname(lockPath), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fs.mkdir(lockPath);
      await fs.writeFile(path.join(lockPath, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await ownerIsGone(lockPath)) {
        await fs.rm(lockPath, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new IsolabError({ kind: 'timeout', op: 'take lock', value: lockPath, reason: 'another process has taken it; retry when that process ends' });
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return await work();
  } finally {
    await fs.rm(lockPath, { recursive: true, force: true });
  }
}

async function ownerIsGone(lockPath: string): Promise<boolean> {
  const text = await fs.readFile(path.join(lockPath, 'pid'), 'utf8').catch(() => '');
  if (!text) {
    // The owner may be between mkdir and writing its pid; a lock this old without one is stale.
    const stat = await fs.stat(lockPath).catch(() => undefined);
    return stat !== undefined && Date.now() - stat.mtimeMs > 10_000;
  }
  return !processExists(Number(text));
}

/** True when a process with this pid exists (signal 0 reaches it). */
export function processExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
