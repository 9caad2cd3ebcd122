// Set-up on the target shared by every scenario: facts, the root filesystem
// with the workloads, the capped parent cgroup and the harness's protection.
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectLayout, openCgroup } from '../../engine/cgroup/index.js';
import { makeBusyboxRootfs } from '../../engine/spec/rootfs.js';
import type { TargetFacts } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Returns the compiled workloads directory (scenarios/workloads/build). */
export function workloadsDir(): string {
  // Compiled code runs from dist/scenarios/framework, sources from scenarios/framework.
  for (const up of ['../workloads/build', '../../../scenarios/workloads/build']) {
    const dir = path.resolve(here, up);
    if (existsSync(path.join(dir, 'memhog'))) return dir;
  }
  return path.resolve(here, '../../../scenarios/workloads/build');
}

/** Reads the facts scenarios branch on: kernel, cgroup version, CPUs, memory, swap. */
export async function readFacts(): Promise<TargetFacts> {
  const layout = await detectLayout();
  const controllers: Record<string, 1 | 2> = {};
  for (const [name, version] of layout.controllers) controllers[name] = version;
  const meminfo = await fs.readFile('/proc/meminfo', 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1] ?? 0);
  return {
    kernelRelease: os.release(),
    cgroupVersion: controllers.memory === 2 ? 2 : 1,
    controllers,
    cpus: os.cpus().length,
    memoryMiB: Math.round(kib('MemTotal') / 1024),
    swapMiB: Math.round(kib('SwapTotal') / 1024),
  };
}

/** Makes the busybox rootfs with the workloads copied to /w, once per work directory. */
export async function prepareRootfs(workDir: string): Promise<string> {
  const rootfs = path.join(workDir, 'rootfs');
  const built = await fs.access(path.join(rootfs, 'bin', 'busybox')).then(() => true, () => false);
  if (!built) {
    await fs.mkdir(rootfs, { recursive: true, mode: 0o755 });
    await makeBusyboxRootfs(rootfs);
  }
  // Copied every time, so workloads built after the rootfs reach it too.
  await fs.cp(workloadsDir(), path.join(rootfs, 'w'), { recursive: true, force: true });
  return rootfs;
}

/** Limits of the parent cgroup that plays the machine in attacks and controls. */
export interface CapLimits { memoryBytes: number; pids: number }

/** Creates (or updates) the capped parent cgroup; returns its path. */
export async function prepareCapParent(name: string, limits: CapLimits): Promise<string> {
  const cgroup = await openCgroup(name);
  // Each container below gets its own device rules; the parent stays open so a control can lift them.
  await cgroup.create({ restrictDevices: false });
  await cgroup.apply({ memory: { limit: limits.memoryBytes }, pids: { limit: limits.pids } });
  return name;
}

/** Removes the capped parent after killing anything left in it. */
export async function removeCapParent(name: string): Promise<void> {
  const cgroup = await openCgroup(name, { createdPaths: [name] });
  await cgroup.killAll(10_000).catch(() => undefined);
  await cgroup.destroy().catch(() => undefined);
}

/**
 * Moves the harness (the given pids, such as the agent and the SSH session
 * that started it) into its own cgroup with oom_score_adj -1000, so that an
 * attack that escapes its limits takes the OOM killer to the offender first.
 */
export async function protectHarness(name: string, pids: number[]): Promise<void> {
  const cgroup = await openCgroup(name);
  // The harness is not a container: it keeps the guest's device access.
  await cgroup.create({ restrictDevices: false });
  for (const pid of pids) {
    await cgroup.addProcess(pid).catch(() => undefined);
    await fs.writeFile(`/proc/${pid}/oom_score_adj`, '-1000').catch(() => undefined);
  }
}
