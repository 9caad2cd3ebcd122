// The filesystem of the dentry offender's chain, and its deletion. The
// default is a tmpfs that the harness mounts in the phase's work directory
// and binds into the offender: its directories are dentries and inodes
// only, so every level the loop makes is pinned kernel memory. On the ext4
// work disk each level also puts a 4 KiB directory block in the page cache.
// Measured on Debian 6.1 under TCG, that made the loop need over 100 s to
// fill 24 MiB, because reclaim returns those blocks only after writeback,
// and in the control the victim got them back and did not fail.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { lastJsonLine } from '../framework/bundle.js';
import type { ScenarioContext } from '../framework/types.js';

const run = promisify(execFile);

/** The filesystems the chain can grow on. */
export type TreeFilesystem = 'tmpfs' | 'workdisk';

/** The directory bound at /data in the offender. */
export interface OffenderTree {
  dir: string;
  filesystem: TreeFilesystem;
  /** Deletes what is left of the tree and unmounts a tmpfs; safe to repeat. */
  release(): Promise<void>;
}

/**
 * Makes the tree's directory. A tmpfs gets `inodes` inodes (nr_inodes), so
 * that the loop meets its memory limit before ENOSPC.
 */
export async function prepareTree(ctx: ScenarioContext, filesystem: TreeFilesystem,
  inodes: number): Promise<OffenderTree> {
  const dir = path.join(ctx.workDir, 'offender');
  await fs.mkdir(dir, { recursive: true });
  let mounted = false;
  if (filesystem === 'tmpfs') {
    const options = `nr_inodes=${inodes},mode=0755`;
    await run('mount', ['-t', 'tmpfs', '-o', options, 'isolab-dentry', dir], { timeout: 30_000 });
    mounted = true;
  }
  const release = async () => {
    // Unmounting a tmpfs frees the whole tree in the kernel, with no syscall per level.
    if (filesystem === 'workdisk' && await fs.access(dir).then(() => true, () => false)) {
      await deleteTree(ctx, dir);
    }
    if (mounted) {
      await run('umount', [dir], { timeout: 60_000 }).catch((err: Error) => {
        ctx.log(`umount ${dir} failed: ${err.message}`);
      });
      mounted = false;
    }
  };
  return { dir, filesystem, release };
}

/** The deltree workload's JSON line. */
export interface DeltreeReport { removed: number; maxDepth: number; errno: string; ms: number }

/**
 * Deletes a directory tree of any depth with the deltree workload, on the
 * target itself: Node's fs.rm builds full paths, which fail with
 * ENAMETOOLONG past PATH_MAX in a `mkdir x; cd x` chain.
 */
export async function deleteTree(ctx: ScenarioContext, dir: string): Promise<DeltreeReport> {
  const deltree = path.join(ctx.workloadsDir, 'deltree');
  const { stdout } = await run(deltree, [dir], { timeout: 600_000 })
    .catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  return lastJsonLine<DeltreeReport>(stdout)
    ?? { removed: 0, maxDepth: 0, errno: 'no report', ms: Infinity };
}

/** Deletes the chain below the tree's directory, leaving the directory. */
export async function deleteChain(ctx: ScenarioContext, tree: OffenderTree):
  Promise<DeltreeReport> {
  const chain = path.join(tree.dir, 'x');
  if (!(await fs.access(chain).then(() => true, () => false))) {
    return { removed: 0, maxDepth: 0, errno: '', ms: 0 };
  }
  return deleteTree(ctx, chain);
}
