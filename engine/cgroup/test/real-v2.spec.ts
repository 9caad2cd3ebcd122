// Runs the v2 manager against this host's real cgroup2 mount, with whatever
// controllers its root lists (none on a hybrid host, which still has
// cgroup.freeze and cgroup.kill). It needs root, and is skipped elsewhere.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

import { expect, test } from '@playwright/test';

import { detectLayout, openCgroup } from '../index.js';

const parent = 'isolab-cgtest';

function exited(child: ChildProcess): Promise<NodeJS.Signals | null> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(child.signalCode);
  }
  return new Promise((resolve) => child.once('exit', (_, signal) => resolve(signal)));
}

test('real cgroup2 freeze, cgroup.kill and destroy', async () => {
  test.setTimeout(30000);
  const isRoot = process.getuid?.() === 0;
  const layout = isRoot ? await detectLayout({ mode: 'v2' }).catch(() => undefined) : undefined;
  test.skip(!layout, 'needs root and a cgroup2 mount');
  if (!layout?.unified) return;

  const path = `${parent}/${randomBytes(4).toString('hex')}`;
  const mount = layout.unified.mountPoint;
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start sleep');
  try {
    const cgroup = await openCgroup(path, { layout });
    expect(cgroup.controllers.get('freezer')).toBe(2);
    await cgroup.create();
    await cgroup.addProcess(pid);
    expect(await cgroup.pids()).toEqual([pid]);

    await cgroup.freeze();
    expect(await cgroup.isFrozen()).toBe(true);
    await cgroup.thaw();
    expect(await cgroup.isFrozen()).toBe(false);

    await cgroup.killAll(5000);
    expect(await exited(child)).toBe('SIGKILL');
    expect(await cgroup.pids()).toEqual([]);

    const createdParent = cgroup.createdPaths?.includes(parent);
    await cgroup.destroy();
    await expect(fs.access(join(mount, path))).rejects.toThrow();
    if (createdParent) await expect(fs.access(join(mount, parent))).rejects.toThrow();
  } finally {
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
    await exited(child);
    for (const dir of [path, parent]) await fs.rmdir(join(mount, dir)).catch(() => undefined);
  }
});
