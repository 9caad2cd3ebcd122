// Each Debian kernel boots under TCG in cgroup v2 and v1 mode, runs a command
// over SSH and reports its cgroup layout. One boot per kernel and mode; the debian-6.1
// v2 boot also checks the Machine contract and the ssh target.
import { test, expect } from '@playwright/test';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KERNELS, parseKernelRequest } from '../kernels/catalog.js';
import { ensureKernel } from '../kernels/store.js';
import { DEFAULT_CACHE_DIR } from '../paths.js';
import { QemuTarget, type QemuMachine } from '../qemu/target.js';
import { requireAttacksAllowed } from '../result.js';
import { SshTarget } from '../ssh.js';
import type { CgroupMode } from '../types.js';
import { testVmName } from './processes.js';

const MEMORY_MIB = 1024;

for (const kernel of KERNELS) {
  for (const cgroup of ['v2', 'v1'] as CgroupMode[]) {
    test(`${kernel.name} boots with cgroup ${cgroup}`, async () => {
      const build = await ensureKernel(DEFAULT_CACHE_DIR, parseKernelRequest(kernel.name));
      const swapMiB = kernel.name === 'debian-6.1' && cgroup === 'v2' ? 64 : 0;
      const name = testVmName(`${kernel.name.replace('.', '')}-${cgroup}`);
      const machine = await new QemuTarget({ name, kernel: kernel.name, cgroup, accel: 'tcg', memoryMiB: MEMORY_MIB, swapMiB }).start();
      try {
        test.info().annotations.push({ type: 'boot', description: JSON.stringify(machine.timing) });
        const uname = await machine.run('uname -r');
        expect(uname.exitCode).toBe(0);
        expect(uname.stdout.trim()).toBe(build.release);

        const facts = await machine.kernelFacts();
        expect(facts.release).toBe(build.release);
        expect(facts.package).toEqual({ name: build.packageName, version: build.packageVersion });
        expect(facts.accel).toBe('tcg');
        expect(facts.cpus).toBe(2);
        expect(facts.memoryBytes).toBeGreaterThan(MEMORY_MIB * 0.8 * 2 ** 20);
        expect(facts.memoryBytes).toBeLessThanOrEqual(MEMORY_MIB * 2 ** 20);
        expect(facts.swapBytes).toBe(swapMiB === 0 ? 0 : swapMiB * 2 ** 20 - 4096);
        expect(facts.config.MEMCG).toBe('y');
        checkCgroups(kernel.name, cgroup, facts.cgroup);

        if (swapMiB > 0) await checkMachineContract(machine);
      } finally {
        await machine.shutdown();
      }
    });
  }
}

function checkCgroups(name: string, mode: CgroupMode, cgroup: Awaited<ReturnType<QemuMachine['kernelFacts']>>['cgroup']): void {
  expect(cgroup.kernelControllers).toEqual(expect.arrayContaining(['cpu', 'memory', 'pids']));
  if (mode === 'v2') {
    expect(cgroup.version).toBe(2);
    expect(cgroup.v2Controllers).toEqual(expect.arrayContaining(['cpu', 'memory', 'pids', 'io']));
    expect(cgroup.v1Controllers).toEqual([]);
    return;
  }
  expect(cgroup.version).toBe(1);
  expect(cgroup.v1Controllers).toEqual(expect.arrayContaining(['cpu', 'pids', 'freezer']));
  // debian-6.12 is built without CONFIG_MEMCG_V1, so memory stays on the cgroup2 mount.
  if (name === 'debian-6.12') {
    expect(cgroup.v1Controllers).not.toContain('memory');
    expect(cgroup.v2Controllers).toContain('memory');
  } else {
    expect(cgroup.v1Controllers).toContain('memory');
  }
}

async function checkMachineContract(machine: QemuMachine): Promise<void> {
  await test.step('streams output and reports exit codes', async () => {
    const chunks: string[] = [];
    const result = await machine.run('echo one; echo two >&2; exit 3', { onStdout: (chunk) => chunks.push(chunk.toString()) });
    expect(chunks.join('')).toBe('one\n');
    expect(result.stderr).toBe('two\n');
    expect(result.exitCode).toBe(3);
    expect(result.reason).toBe('exit');
  });

  await test.step('reports a signal and a timeout', async () => {
    const killed = await machine.run('kill -KILL $$');
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.exitCode).toBeNull();
    const slow = await machine.run(['sleep', '987'], { timeoutMs: 2000 });
    expect(slow.timedOut).toBe(true);
    expect(slow.reason).toBe('timeout');
    const left = await machine.run('pgrep -x sleep -a || true');
    expect(left.stdout).not.toContain('987');
  });

  await test.step('copies files in and out', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'isolab-copy-'));
    try {
      await fs.writeFile(path.join(dir, 'in.txt'), 'through sftp\n');
      await machine.copyIn(path.join(dir, 'in.txt'), `${machine.workDir}/copied.txt`);
      const check = await machine.run(['stat', '-f', '-c', '%T', machine.workDir]);
      expect(check.stdout.trim()).toBe('ext2/ext3');
      await machine.copyOut(`${machine.workDir}/copied.txt`, path.join(dir, 'out.txt'));
      expect(await fs.readFile(path.join(dir, 'out.txt'), 'utf8')).toBe('through sftp\n');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  await test.step('ssh target reaches the VM with its key', async () => {
    const target = new SshTarget({ host: '127.0.0.1', port: machine.record.sshPort, keyPath: path.join(machine.record.dir, 'id_ed25519') });
    const remote = await target.start();
    try {
      expect(remote.attacksAllowed).toBe(false);
      expect(() => requireAttacksAllowed(remote, 'fork-bomb')).toThrow(/--allow-attacks/);
      const uname = await remote.run('uname -r');
      expect(uname.stdout.trim()).toBe(machine.record.kernel.release);
    } finally {
      await remote.shutdown();
    }
  });
}
