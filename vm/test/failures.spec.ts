// A hung guest and a crashed guest kernel are detected and reported with the console.
import { test, expect } from '@playwright/test';
import { IsolabError } from '../../engine/errors.js';
import { QemuTarget } from '../qemu/target.js';
import { qemuProcessesOf, testVmName } from './processes.js';

// An init that prints once and then neither prints nor starts sshd: from the
// host this looks the same as a kernel that stopped responding.
const SILENT_INIT = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo "isolab-test: init stops answering"
exec /bin/busybox sleep 100000
`;

// The kernel boots with `quiet` and prints nothing until init, which takes
// several seconds under TCG on a loaded host, so the bound must exceed that.
const HANG_BOUND_MS = 15_000;

test('hung guest is reported within the bound', async () => {
  const name = testVmName('hang');
  const started = Date.now();
  const error = await new QemuTarget({ name, accel: 'tcg', customInit: SILENT_INIT, hangTimeoutMs: HANG_BOUND_MS })
    .start()
    .then(() => undefined, (err: unknown) => err);
  const elapsed = Date.now() - started;

  expect(error).toBeInstanceOf(IsolabError);
  const vmError = error as IsolabError;
  expect(vmError.kind).toBe('hung');
  expect(vmError.message).toContain(`could not boot vm \`${name}\``);
  expect(vmError.message).toMatch(/no console output and no SSH response for \d+(\.\d)? s/);
  expect(vmError.logExcerpt).toContain('isolab-test: init stops answering');
  // The bound counts from the last output, which comes a few seconds into the boot.
  expect(elapsed).toBeGreaterThan(HANG_BOUND_MS);
  expect(elapsed).toBeLessThan(HANG_BOUND_MS + 30_000);
  expect(await qemuProcessesOf(name)).toEqual([]);
});

test('guest kernel crash fails the command with the panic', async () => {
  const machine = await new QemuTarget({ name: testVmName('crash'), accel: 'tcg', hangTimeoutMs: 60_000 }).start();
  try {
    const before = await machine.run('true');
    expect(before.exitCode).toBe(0);

    const error = await machine.run('echo 1 > /proc/sys/kernel/sysrq; echo c > /proc/sysrq-trigger')
      .then(() => undefined, (err: unknown) => err);

    expect(error).toBeInstanceOf(IsolabError);
    const vmError = error as IsolabError;
    expect(vmError.kind).toBe('crashed');
    expect(vmError.reason).toBe('the guest kernel crashed');
    expect(vmError.logExcerpt).toContain('Kernel panic - not syncing');
    expect(vmError.logExcerpt).toMatch(/sysrq/i);
    expect(vmError.message).toContain('--- guest console ---');
    await expect(machine.run('true')).rejects.toThrow(/crashed/);
  } finally {
    await machine.shutdown();
  }
  expect(await qemuProcessesOf(machine.name)).toEqual([]);
});
