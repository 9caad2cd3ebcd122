// Teardown when the harness is interrupted: SIGINT in the middle of a boot
// leaves no QEMU and no VM directory, and a VM whose harness was killed is
// removed by gc. These run `isolab vm run` from the build in dist/.
import { test, expect } from '@playwright/test';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { DEFAULT_RUN_DIR } from '../paths.js';
import { collectGarbage, readRecord, sameProcessRunning } from '../qemu/runtime.js';
import { qemuProcessesOf, testVmName, waitForNoQemu } from './processes.js';

const CLI = fileURLToPath(new URL('../../dist/bin/vm-cli.js', import.meta.url));
const RUNNER = 'const cli = await import(process.argv[1]); process.exitCode = await cli.runVmCommand(process.argv.slice(2));';

function startVmRun(name: string): ResultPromise {
  return execa('node', ['--input-type=module', '-e', RUNNER, CLI, 'run', '--name', name, '--accel', 'tcg', '--', 'sleep', '600'], {
    reject: false,
    stdin: 'ignore',
  });
}

async function waitForQemuPid(name: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const record = await readRecord(path.join(DEFAULT_RUN_DIR, name));
    if (record?.qemuPid) return record.qemuPid;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no QEMU pid for ${name} within ${timeoutMs} ms`);
}

test.beforeAll(async () => {
  await fs.access(CLI).catch(() => {
    throw new Error(`${CLI} is missing; run \`npm run build\` first`);
  });
});

test('SIGINT during boot leaves no QEMU', async () => {
  const name = testVmName('sigint');
  const harness = startVmRun(name);
  const qemuPid = await waitForQemuPid(name, 120_000);
  harness.kill('SIGINT');
  const result = await harness;

  expect(result.signal ?? result.exitCode).toBe('SIGINT');
  expect(await waitForNoQemu(name, 5000)).toEqual([]);
  expect(sameProcessRunning(qemuPid, null)).toBe(false);
  await expect(fs.access(path.join(DEFAULT_RUN_DIR, name))).rejects.toThrow(/ENOENT/);
});

test('gc removes the VM of a killed harness', async () => {
  const name = testVmName('orphan');
  const harness = startVmRun(name);
  await waitForQemuPid(name, 120_000);
  harness.kill('SIGKILL');
  await harness;

  // setpriv's parent-death signal stops QEMU; the directory stays until gc.
  expect(await waitForNoQemu(name, 5000)).toEqual([]);
  await fs.access(path.join(DEFAULT_RUN_DIR, name));
  const removed = await collectGarbage(DEFAULT_RUN_DIR);
  expect(removed.map((entry) => entry.name)).toContain(name);
  await expect(fs.access(path.join(DEFAULT_RUN_DIR, name))).rejects.toThrow(/ENOENT/);
  expect(await qemuProcessesOf(name)).toEqual([]);
});
