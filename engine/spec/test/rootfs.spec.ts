import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { makeBusyboxRootfs } from '../rootfs.js';
import { makeBundle, type Bundle } from './helpers.js';

let bundle: Bundle;
test.beforeEach(() => {
  bundle = makeBundle();
});
test.afterEach(() => bundle.remove());

test('busybox rootfs has applets, users and directories', async () => {
  await makeBusyboxRootfs(bundle.rootfs);
  const at = (name: string): string => path.join(bundle.rootfs, name);

  expect(statSync(at('bin/busybox')).mode & 0o777).toBe(0o755);
  expect(readlinkSync(at('bin/sh'))).toBe('/bin/busybox');
  expect(lstatSync(at('usr/bin/awk')).isSymbolicLink()).toBe(true);
  expect(readFileSync(at('etc/passwd'), 'utf8')).toMatch(/^root:x:0:0:root:\/root:\/bin\/sh$/m);
  expect(readFileSync(at('etc/group'), 'utf8')).toMatch(/^root:x:0:$/m);
  expect(statSync(at('tmp')).mode & 0o7777).toBe(0o1777);
  expect(statSync(at('root')).mode & 0o777).toBe(0o700);
  for (const dir of ['proc', 'sys', 'dev']) expect(statSync(at(dir)).isDirectory()).toBe(true);

  const applets = execFileSync('/bin/busybox', ['--list']).toString().trim().split('\n');
  expect(applets.length).toBeGreaterThan(100);
});

test('busybox rootfs runs a shell under chroot', async () => {
  await makeBusyboxRootfs(bundle.rootfs);
  const script = 'echo hi; ls /bin | wc -l';
  const output = execFileSync('chroot', [bundle.rootfs, '/bin/sh', '-c', script]);
  const [greeting, count] = output.toString().trim().split('\n');
  expect(greeting).toBe('hi');
  expect(Number(count)).toBeGreaterThan(50);
});

test('busybox rootfs made twice', async () => {
  await makeBusyboxRootfs(bundle.rootfs);
  await expect(makeBusyboxRootfs(bundle.rootfs)).resolves.toBeUndefined();
});

test('dynamically linked busybox is rejected', async () => {
  const fake = path.join(bundle.dir, 'busybox');
  writeFileSync(fake, readFileSync('/bin/ls'));
  await expect(makeBusyboxRootfs(bundle.rootfs, { busybox: fake }))
    .rejects.toThrow('it is dynamically linked');
});
