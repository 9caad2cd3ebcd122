// Swap for the paging scenario: the target's own swap when it has some, or
// a swap file on the work disk for the length of one phase. Because swapon
// is host-wide, a restorer process is started first. It turns the file off
// when the phase ends, after a bound, or when the harness dies.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ScenarioContext } from '../framework/types.js';

const run = promisify(execFile);

/** statfs f_type of filesystems that can hold a swap file that swapon accepts. */
const SWAP_FILESYSTEMS: Record<number, string> = { 0xef53: 'ext4', 0x58465342: 'xfs' };

/** Swap in use for a phase; release() undoes what acquire made. */
export interface SwapSpace {
  /** 'target' when the machine had swap already, 'file' when this phase enabled one. */
  source: 'target' | 'file';
  sizeMiB: number;
  release(): Promise<void>;
}

/**
 * Returns swap for the phase, or a reason to skip: the target's swap if it
 * has any, else a new swap file of `sizeMiB` under ctx.workDir, which must
 * be on ext4 or xfs (tmpfs, overlayfs and 9p cannot hold swap).
 */
export async function acquireSwap(ctx: ScenarioContext, sizeMiB: number, boundSeconds: number):
  Promise<SwapSpace | string> {
  if (ctx.facts.swapMiB > 0) {
    return { source: 'target', sizeMiB: ctx.facts.swapMiB, release: async () => undefined };
  }
  const { type } = await fs.statfs(ctx.workDir);
  const fsName = SWAP_FILESYSTEMS[type];
  if (!fsName) {
    return `the target has no swap, and the work directory ${ctx.workDir} is on a filesystem `
      + `(statfs type 0x${type.toString(16)}) that cannot hold a swap file`;
  }
  const file = path.join(ctx.workDir, 'swapfile');
  await writeZeros(file, sizeMiB);
  try {
    await run('mkswap', [file], { timeout: 30_000 });
  } catch (err) {
    await fs.rm(file, { force: true });
    return `mkswap failed on ${file}: ${(err as Error).message}`;
  }
  const restorer = await startRestorer(ctx, file, boundSeconds);
  try {
    await run('swapon', [file], { timeout: 30_000 });
  } catch (err) {
    restorer.stdin!.end();
    await fs.rm(file, { force: true });
    return `swapon ${file} failed: ${(err as Error).message}`;
  }
  ctx.log(`swap file ${file} of ${sizeMiB} MiB on ${fsName} enabled for this phase`);
  return { source: 'file', sizeMiB, release: () => releaseFile(ctx, file, restorer) };
}

/** Writes MiB of zeros: a swap file must have no holes, which fallocate does not promise. */
async function writeZeros(file: string, mib: number): Promise<void> {
  const handle = await fs.open(file, 'w', 0o600);
  try {
    const block = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < mib; i++) await handle.write(block);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function startRestorer(ctx: ScenarioContext, file: string, boundSeconds: number):
  Promise<ChildProcess> {
  const args = [String(boundSeconds), 'swapoff', file];
  const restorer = spawn(path.join(ctx.workloadsDir, 'restorer'), args,
    { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error('the swap restorer did not start within 10 s'));
    }, 10_000);
    restorer.once('error', reject);
    restorer.stdout!.once('data', () => { clearTimeout(timer); resolve(); });
  });
  return restorer;
}

/** Turns the swap file off (which reads every swapped page back) and removes it. */
async function releaseFile(ctx: ScenarioContext, file: string, restorer: ChildProcess):
  Promise<void> {
  await run('swapoff', [file], { timeout: 120_000 }).catch((err: Error) => {
    ctx.log(`swapoff ${file} failed: ${err.message}`);
  });
  const exited = new Promise((resolve) => restorer.once('exit', resolve));
  restorer.stdin!.end();
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
  await fs.rm(file, { force: true });
}
