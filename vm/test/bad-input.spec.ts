// Bad input fails with a clear error and leaves nothing running or on disk.
import { test, expect } from '@playwright/test';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { IsolabError } from '../../engine/errors.js';
import { DEFAULT_RUN_DIR } from '../paths.js';
import { freePort } from '../qemu/launch.js';
import { QemuTarget } from '../qemu/target.js';
import { SshTarget } from '../ssh.js';
import { LocalTarget } from '../local.js';
import { requireAttacksAllowed } from '../result.js';
import { qemuProcessesOf } from './processes.js';

async function failure(work: Promise<unknown>): Promise<IsolabError> {
  const error = await work.then(() => undefined, (err: unknown) => err);
  expect(error).toBeInstanceOf(IsolabError);
  return error as IsolabError;
}

async function expectNothingLeft(name: string): Promise<void> {
  expect(await qemuProcessesOf(name)).toEqual([]);
  await expect(fs.access(path.join(DEFAULT_RUN_DIR, name))).rejects.toThrow(/ENOENT/);
}

test('unknown kernel name lists the known kernels', async () => {
  const error = await failure(new QemuTarget({ name: 't-bad-kernel', kernel: 'debian-9' }).start());
  expect(error.message).toBe('could not find kernel `debian-9`: unknown kernel name; known kernels: debian-6.1, debian-6.12, debian-5.10');
  await expectNothingLeft('t-bad-kernel');
});

test('missing QEMU names the Debian package', async () => {
  const savedPath = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    const error = await failure(new QemuTarget({ name: 't-no-qemu' }).start());
    expect(error.kind).toBe('missing-tool');
    expect(error.message).toContain('install the Debian package qemu-system-x86');
  } finally {
    process.env.PATH = savedPath;
  }
  await expectNothingLeft('t-no-qemu');
});

test('forwarded port in use fails before QEMU starts', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const error = await failure(new QemuTarget({ name: 't-busy-port', accel: 'tcg', sshPort: port }).start());
    expect(error.message).toBe(`could not forward SSH port \`127.0.0.1:${port}\`: the port is in use`);
  } finally {
    server.close();
  }
  await expectNothingLeft('t-busy-port');
});

test('unreadable SSH key is named', async () => {
  const error = await failure(new SshTarget({ host: '127.0.0.1', keyPath: '/nonexistent/id_ed25519' }).start());
  expect(error.message).toMatch(/^could not read SSH key `\/nonexistent\/id_ed25519`: ENOENT/);
});

test('SSH key that does not parse is named', async () => {
  const keyDir = await fs.mkdtemp('/tmp/isolab-key-');
  try {
    await fs.writeFile(path.join(keyDir, 'key'), 'not a key\n');
    const error = await failure(new SshTarget({ host: '127.0.0.1', keyPath: path.join(keyDir, 'key') }).start());
    expect(error.message).toMatch(/^could not read SSH key `.*\/key`: not a private key/);
  } finally {
    await fs.rm(keyDir, { recursive: true, force: true });
  }
});

test('unreachable SSH target is named', async () => {
  const port = await freePort();
  const keyDir = await fs.mkdtemp('/tmp/isolab-key-');
  try {
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(keyDir, 'key')]);
    const error = await failure(new SshTarget({ host: '127.0.0.1', port, keyPath: path.join(keyDir, 'key'), timeoutMs: 5000 }).start());
    expect(error.kind).toBe('unreachable');
    expect(error.message).toContain(`could not connect over SSH to \`127.0.0.1:${port}\``);
  } finally {
    await fs.rm(keyDir, { recursive: true, force: true });
  }
});

test('local target runs on this kernel and gates attacks', async () => {
  const machine = await new LocalTarget().start();
  try {
    const uname = await machine.run(['uname', '-r']);
    expect(uname.stdout.trim()).toBe((await fs.readFile('/proc/sys/kernel/osrelease', 'utf8')).trim());
    const facts = await machine.kernelFacts();
    expect(facts.release).toBe(uname.stdout.trim());
    expect(() => requireAttacksAllowed(machine, 'fork-bomb')).toThrow(/not disposable; pass --allow-attacks/);
    const slow = await machine.run('sleep 5', { timeoutMs: 300 });
    expect(slow.timedOut).toBe(true);
  } finally {
    await machine.shutdown();
  }
  const allowed = await new LocalTarget({ allowAttacks: true }).start();
  expect(() => requireAttacksAllowed(allowed, 'fork-bomb')).not.toThrow();
  await allowed.shutdown();
});
