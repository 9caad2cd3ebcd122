// Builds the guest's initramfs from busybox-static and the kernel's own modules,
// cached beside the kernel under a name that hashes everything it is made of.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { IsolabError } from '../../engine/errors.js';
import type { KernelBuild } from '../kernels/store.js';
import { encodeCpio, type CpioEntry } from './cpio.js';
import { readModule, resolveModules, type ModuleFile } from './modules.js';
import { STAGE1, STAGE2 } from './scripts.js';

export const BUSYBOX = '/bin/busybox';

/** Changes whenever this builder's output changes, so cached images are rebuilt. */
const BUILDER_VERSION = '9';

/** Modules stage 1 loads before it can mount the root: PCI transport, network and 9p. */
export const EARLY_MODULES = ['virtio_pci', 'virtio_net', '9pnet_virtio', '9p', 'overlay'];

/** Modules stage 1 loads beside the root's setup: the work disk. */
export const DISK_MODULES = ['virtio_blk', 'crc32c_generic', 'ext4'];

/** Modules stage 2 loads in the background for the scenarios: container networks and zram swap. */
export const EXTRA_MODULES = ['veth', 'bridge', 'zram'];

/** Returns the path of the kernel's initramfs, building it when the cache has none. */
export async function ensureInitramfs(build: KernelBuild): Promise<string> {
  const busybox = await readBusybox();
  const hash = createHash('sha256')
    .update([BUILDER_VERSION, STAGE1, STAGE2, ...EARLY_MODULES, '', ...DISK_MODULES, '', ...EXTRA_MODULES, build.release].join('\0'))
    .update(busybox)
    .digest('hex')
    .slice(0, 16);
  const output = path.join(build.dir, `initramfs-${hash}.cpio`);
  if (await fs.stat(output).then(() => true, () => false)) return output;

  const modules = await resolveModules(build.modulesDir, [...EARLY_MODULES, ...DISK_MODULES, ...EXTRA_MODULES]);
  const entries = baseEntries(busybox);
  entries.push(...(await moduleEntries(build, modules)));
  // A module built into this kernel (virtio_pci in 6.12) is not in modules.dep,
  // where busybox modprobe would fail to find it.
  const loadable = new Set(modules.map((module) => module.name));
  const list = (names: string[]): string => `${names.filter((name) => loadable.has(name)).join(' ')}\n`;
  entries.push(textFile('etc/isolab/early-modules', list(EARLY_MODULES)));
  entries.push(textFile('etc/isolab/disk-modules', list(DISK_MODULES)));
  entries.push(textFile('etc/isolab/extra-modules', list(EXTRA_MODULES)));

  // Write then rename, so a concurrent boot never reads a half-written image.
  const partial = `${output}.${process.pid}.partial`;
  await fs.writeFile(partial, encodeCpio(entries));
  await fs.rename(partial, output);
  return output;
}

/** Writes an initramfs whose /init is replaced by script: the base image plus one more archive. */
export async function writeInitramfsWithInit(base: string, script: string, output: string): Promise<void> {
  const extra = encodeCpio([{ type: 'file', path: 'init', data: Buffer.from(script), mode: 0o755 }]);
  await fs.writeFile(output, Buffer.concat([await fs.readFile(base), extra]));
}

async function readBusybox(): Promise<Buffer> {
  const data = await fs.readFile(BUSYBOX).catch(() => undefined);
  // The initramfs has no shared libraries, so busybox must be static: no PT_INTERP header.
  if (!data || hasInterpreter(data)) {
    throw new IsolabError({
      kind: 'missing-tool',
      op: 'build the initramfs from',
      value: BUSYBOX,
      reason: 'a statically linked busybox is needed; install the Debian package busybox-static',
    });
  }
  return data;
}

/** True when an ELF64 file has a PT_INTERP program header, that is, needs a dynamic loader. */
export function hasInterpreter(elf: Buffer): boolean {
  const PT_INTERP = 3;
  const headerOffset = Number(elf.readBigUInt64LE(0x20));
  const headerSize = elf.readUInt16LE(0x36);
  const count = elf.readUInt16LE(0x38);
  for (let i = 0; i < count; i++) {
    if (elf.readUInt32LE(headerOffset + i * headerSize) === PT_INTERP) return true;
  }
  return false;
}

function baseEntries(busybox: Buffer): CpioEntry[] {
  const dirs = ['bin', 'dev', 'proc', 'sys', 'mnt', 'mnt/host', 'mnt/overlay', 'newroot', 'etc', 'etc/isolab', 'lib'];
  return [
    ...dirs.map((dir): CpioEntry => ({ type: 'dir', path: dir })),
    { type: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
    { type: 'symlink', path: 'bin/sh', target: 'busybox' },
    { type: 'file', path: 'init', data: Buffer.from(STAGE1), mode: 0o755 },
    textFile('etc/isolab/stage2', STAGE2),
  ];
}

async function moduleEntries(build: KernelBuild, modules: ModuleFile[]): Promise<CpioEntry[]> {
  const root = `lib/modules/${build.release}`;
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const depLines: string[] = [];
  for (const module of modules) {
    const relative = uncompressedPath(module);
    for (let dir = path.dirname(`${root}/${relative}`); dir !== '.' && !dirs.has(dir); dir = path.dirname(dir)) {
      dirs.add(dir);
    }
    entries.push({ type: 'file', path: `${root}/${relative}`, data: await readModule(build.modulesDir, module.relativePath) });
    depLines.push(`${relative}: ${dependencyPaths(module, modules).join(' ')}`.trimEnd());
  }
  const dirEntries = [...dirs].sort().map((dir): CpioEntry => ({ type: 'dir', path: dir }));
  return [...dirEntries, ...entries, textFile(`${root}/modules.dep`, `${depLines.join('\n')}\n`)];
}

// busybox modprobe reads the dependencies from modules.dep and loads the last
// one listed first. The modules are in load order, so listing the earlier ones
// in reverse keeps that order.
function dependencyPaths(module: ModuleFile, ordered: ModuleFile[]): string[] {
  const index = ordered.indexOf(module);
  return ordered.slice(0, index).reverse().filter((candidate) => module.deps.includes(candidate.name))
    .map(uncompressedPath);
}

function uncompressedPath(module: ModuleFile): string {
  return module.relativePath.replace(/\.(xz|zst|gz)$/, '');
}

function textFile(file: string, text: string): CpioEntry {
  return { type: 'file', path: file, data: Buffer.from(text), mode: 0o644 };
}
