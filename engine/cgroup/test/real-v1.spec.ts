// Runs the manager against this host's real v1 hierarchies. It needs root
// and a host where memory, pids, cpu and freezer are on v1, and is skipped elsewhere.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect, test } from '@playwright/test';

import { detectLayout, openCgroup, type CgroupLayout } from '../index.js';
import { v1MountOf, v1Names } from '../mounts.js';

const parent = 'isolab-cgtest';

async function hostLayout(): Promise<CgroupLayout | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const layout = await detectLayout();
  const onV1 = ['memory', 'pids', 'cpu', 'freezer'] as const;
  return onV1.every((name) => layout.controllers.get(name) === 1) ? layout : undefined;
}

function mountPoints(layout: CgroupLayout): string[] {
  const names = [...layout.controllers.keys()].map((name) => v1Names[name]);
  const mounts = [...names, 'cpuacct'].map((name) => v1MountOf(layout, name));
  return [...new Set(mounts.filter((mount): mount is string => !!mount))];
}

function exited(child: ChildProcess): Promise<NodeJS.Signals | null> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(child.signalCode);
  }
  return new Promise((resolve) => child.once('exit', (_, signal) => resolve(signal)));
}

/** Removes what a failed run left: the leaf, then the parent if it is empty. */
async function removeLeftovers(mounts: string[], path: string): Promise<void> {
  for (const dir of [path, parent]) {
    for (const mount of mounts) await fs.rmdir(join(mount, dir)).catch(() => undefined);
  }
}

test('real v1 cgroup limits, stats, killAll and destroy', async () => {
  test.setTimeout(30000);
  const layout = await hostLayout();
  test.skip(!layout, 'needs root and memory, pids, cpu and freezer on cgroup v1');
  if (!layout) return;

  const path = `${parent}/${randomBytes(4).toString('hex')}`;
  const mounts = mountPoints(layout);
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start sleep');
  try {
    const cgroup = await openCgroup(path, { layout });
    await cgroup.create();
    const memoryDir = cgroup.dirOf('memory') ?? '';
    const cpuDir = cgroup.dirOf('cpu') ?? '';

    // The kernel rounds a limit down to whole pages, and apply() accepts that.
    await cgroup.apply({ memory: { limit: 33554432 + 100 } });
    expect(readFileSync(join(memoryDir, 'memory.limit_in_bytes'), 'utf8').trim()).toBe('33554432');

    await cgroup.apply({
      memory: { limit: 32 * 1024 * 1024 },
      pids: { limit: 10 },
      cpu: { quota: 20000, period: 100000 },
    });
    expect(readFileSync(join(cgroup.dirOf('pids') ?? '', 'pids.max'), 'utf8').trim()).toBe('10');
    expect(readFileSync(join(cpuDir, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('20000');
    expect(readFileSync(join(cpuDir, 'cpu.cfs_period_us'), 'utf8').trim()).toBe('100000');

    await cgroup.addProcess(pid);
    expect(await cgroup.pids()).toEqual([pid]);
    const procCgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    for (const controller of ['memory', 'pids', 'cpu', 'cpuacct', 'cpuset', 'freezer']) {
      expect(procCgroup).toMatch(new RegExp(`:${controller}:/${path}$`, 'm'));
    }

    const stats = await cgroup.stats();
    expect(stats.memory?.limit).toBe(33554432);
    expect(stats.memory?.stat).toHaveProperty('rss');
    expect(stats.pids).toEqual({ current: 1, limit: 10, events: { max: 0 } });
    expect(stats.cpu?.quotaUsec).toBe(20000);
    expect(stats.cpu?.periodUsec).toBe(100000);
    expect(stats.cpu?.usageUsec).toBeGreaterThanOrEqual(0);

    await cgroup.freeze();
    expect(await cgroup.isFrozen()).toBe(true);
    await cgroup.thaw();
    expect(await cgroup.isFrozen()).toBe(false);

    await cgroup.killAll(5000);
    expect(await exited(child)).toBe('SIGKILL');
    expect(await cgroup.pids()).toEqual([]);

    const createdParent = cgroup.createdPaths?.includes(parent);
    await cgroup.destroy();
    for (const mount of mounts) {
      await expect(fs.access(join(mount, path))).rejects.toThrow();
      if (createdParent) await expect(fs.access(join(mount, parent))).rejects.toThrow();
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
    await exited(child);
    await removeLeftovers(mounts, path);
  }
});
