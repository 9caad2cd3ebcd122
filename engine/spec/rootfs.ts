// Root filesystems for containers: a minimal busybox tree, and the directories
// of an overlay whose lower layer is an existing tree, such as the host's `/`.

import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { IsolabError, fromSystemError } from '../errors.js';
import type { IdMapping, Spec } from './oci.js';

const execFileAsync = promisify(execFile);

/** Debian's busybox-static installs a statically linked busybox here. */
export const DEFAULT_BUSYBOX = '/bin/busybox';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
];

const GROUP = ['root:x:0:', 'tty:x:5:', 'nogroup:x:65534:'];

// Directories and their modes; /tmp is world-writable with the sticky bit.
const DIRECTORIES: Array<[string, number]> = [
  ['bin', 0o755], ['sbin', 0o755], ['usr/bin', 0o755], ['usr/sbin', 0o755], ['etc', 0o755],
  ['proc', 0o555], ['sys', 0o555], ['dev', 0o755], ['tmp', 0o1777], ['root', 0o700],
  ['var', 0o755], ['run', 0o755],
];

export interface BusyboxRootfsOptions {
  /** A statically linked busybox binary; /bin/busybox by default. */
  busybox?: string;
}

/**
 * Creates a minimal root filesystem in `dir`: busybox with one symlink per
 * applet where `busybox --install -s` would put it, /etc/passwd, /etc/group,
 * and empty /proc, /sys, /dev, /tmp and /root. Existing files are kept.
 */
export async function makeBusyboxRootfs(dir: string, options: BusyboxRootfsOptions = {}):
  Promise<void> {
  const busybox = options.busybox ?? DEFAULT_BUSYBOX;
  await checkStaticBinary(busybox);

  try {
    for (const [name, mode] of DIRECTORIES) {
      const target = path.join(dir, name);
      await fs.mkdir(target, { recursive: true });
      // chmod after mkdir, because mkdir applies the process umask to the mode.
      await fs.chmod(target, mode);
    }
    await fs.copyFile(busybox, path.join(dir, 'bin/busybox'));
    await fs.chmod(path.join(dir, 'bin/busybox'), 0o755);

    for (const applet of await listApplets(busybox)) {
      if (applet === 'bin/busybox') continue;
      const link = path.join(dir, applet);
      await fs.mkdir(path.dirname(link), { recursive: true });
      await fs.symlink('/bin/busybox', link).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    }
    await fs.writeFile(path.join(dir, 'etc/passwd'), `${PASSWD.join('\n')}\n`);
    await fs.writeFile(path.join(dir, 'etc/group'), `${GROUP.join('\n')}\n`);
  } catch (err) {
    throw fromSystemError('create busybox rootfs', dir, err);
  }
}

// Returns applet paths relative to /, such as `usr/bin/awk`.
async function listApplets(busybox: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(busybox, ['--list-full']));
  } catch (err) {
    throw fromSystemError('list busybox applets', busybox, err);
  }
  const applets = stdout.split('\n').filter((line) => line !== '');
  for (const applet of applets) {
    if (applet.startsWith('/') || applet.split('/').includes('..')) {
      throw new IsolabError({ kind: 'system', op: 'list busybox applets', value: applet,
        reason: 'busybox --list-full printed a path outside the rootfs' });
    }
  }
  return applets;
}

// A dynamically linked busybox fails inside a rootfs without its libraries, so
// the ELF program headers are checked for PT_INTERP (x86_64 and other 64-bit
// little-endian ELF files only).
async function checkStaticBinary(file: string): Promise<void> {
  let data: Buffer;
  try {
    data = await fs.readFile(file);
  } catch (err) {
    throw fromSystemError('read busybox', file, err);
  }
  const isElf64LE = data.readUInt32BE(0) === 0x7f454c46 && data[4] === 2 && data[5] === 1;
  if (!isElf64LE) {
    throw new IsolabError({ kind: 'unsupported', op: 'use busybox', value: file,
      reason: 'not a 64-bit little-endian ELF file' });
  }
  const phoff = Number(data.readBigUInt64LE(0x20));
  const phentsize = data.readUInt16LE(0x36);
  const phnum = data.readUInt16LE(0x38);
  const PT_INTERP = 3;
  for (let i = 0; i < phnum; i++) {
    if (data.readUInt32LE(phoff + i * phentsize) === PT_INTERP) {
      throw new IsolabError({ kind: 'unsupported', op: 'use busybox', value: file,
        reason: 'it is dynamically linked; install a static busybox such as busybox-static' });
    }
  }
}

/** Directories of an overlay root filesystem under a container's state directory. */
export interface OverlayDirs {
  /** Mount point of the overlay, and the container's root before pivot. */
  rootfs: string;
  upper: string;
  work: string;
}

/** Returns where the overlay layers of a container live; creates nothing. */
export function overlayDirs(stateDir: string): OverlayDirs {
  return {
    rootfs: path.join(stateDir, 'rootfs'),
    upper: path.join(stateDir, 'upper'),
    work: path.join(stateDir, 'work'),
  };
}

/**
 * Creates the overlay directories for a spec with `isolab.rootfs=overlay`.
 * With a new user namespace they belong to the host ids of container root,
 * which mounts the overlay and must be able to write the upper and work dirs.
 *
 * NOTE: that root must also be able to search every directory above them,
 * so the state directory needs mode 0711 or an owner in the mapping.
 */
export async function prepareOverlayDirs(stateDir: string, spec: Spec): Promise<OverlayDirs> {
  const dirs = overlayDirs(stateDir);
  const userNs = spec.linux?.namespaces?.find((ns) => ns.type === 'user' && ns.path === undefined);
  const uid = userNs ? hostIdOf(0, spec.linux?.uidMappings) : 0;
  const gid = userNs ? hostIdOf(0, spec.linux?.gidMappings) : 0;

  try {
    const modes = [[dirs.rootfs, 0o755], [dirs.upper, 0o755], [dirs.work, 0o700]] as const;
    for (const [dir, mode] of modes) {
      await fs.mkdir(dir, { recursive: true });
      await fs.chmod(dir, mode);
      await fs.chown(dir, uid, gid);
    }
  } catch (err) {
    throw fromSystemError('create overlay directories', stateDir, err);
  }
  return dirs;
}

function hostIdOf(containerId: number, mappings: IdMapping[] | undefined): number {
  const mapping = (mappings ?? []).find(
    (m) => containerId >= m.containerID && containerId < m.containerID + m.size,
  );
  if (mapping === undefined) {
    throw new IsolabError({
      kind: 'invalid-input',
      op: 'map container id',
      value: String(containerId),
      reason: 'no id mapping contains it',
    });
  }
  return mapping.hostID + (containerId - mapping.containerID);
}
