// Checks between fields of a spec whose fields are each valid on their own:
// id mappings need a user namespace, a hostname needs a UTS namespace, and so on.

import { realpathSync, statSync } from 'node:fs';

import { fieldError, joinPath } from './check.js';
import { findNamespace } from './linux.js';
import type { IdMapping, Spec } from './oci.js';

/** Checks the rules that tie fields of a validated spec together. */
export function checkCrossFields(spec: Spec): void {
  checkMountNamespace(spec);
  checkIdMappings(spec);
  checkUtsNames(spec);
  checkTimeOffsets(spec);
  checkSysctls(spec);
}

// The helper mounts the rootfs and calls pivot_root only in a new mount
// namespace. Without one the process runs in the host's root filesystem, which
// control runs use, so nothing that needs a mount may be asked for.
function checkMountNamespace(spec: Spec): void {
  const mountNs = findNamespace(spec.linux, 'mount');
  if (mountNs?.path !== undefined) {
    throw fieldError(
      'linux.namespaces',
      mountNs.path,
      'the mount namespace must be new, because isolab sets up the root filesystem in it',
    );
  }
  if (mountNs === undefined) {
    checkNoMounts(spec);
    return;
  }

  // The host's own root, also through a symlink, needs the overlay: a bind of
  // it would be writable from the container, and pivot_root cannot move the
  // root mount onto itself (EBUSY).
  const isOverlay = spec.annotations?.['isolab.rootfs'] === 'overlay';
  const rootPath = spec.root?.path;
  if (rootPath !== undefined && !isOverlay && realpathOrSelf(rootPath) === '/') {
    throw fieldError('root.path', rootPath, 'is the host root; set annotation isolab.rootfs=overlay');
  }
}

function checkNoMounts(spec: Spec): void {
  const nonEmpty = (list: string[] | Spec['mounts']) => (list?.length ? list : undefined);
  const needsMountNs: Array<[string, unknown]> = [
    ['mounts', nonEmpty(spec.mounts)],
    ['linux.maskedPaths', nonEmpty(spec.linux?.maskedPaths)],
    ['linux.readonlyPaths', nonEmpty(spec.linux?.readonlyPaths)],
    ['root.readonly', spec.root?.readonly || undefined],
    ['annotations.isolab.rootfs', spec.annotations?.['isolab.rootfs'] === 'overlay' || undefined],
  ];
  for (const [field, value] of needsMountNs) {
    if (value === undefined) continue;
    throw fieldError(field, value, 'needs a mount namespace in linux.namespaces');
  }
  if (spec.root?.path !== '/') {
    throw fieldError('root.path', spec.root?.path, 'must be / without a mount namespace');
  }
}

function checkIdMappings(spec: Spec): void {
  const userNs = findNamespace(spec.linux, 'user');
  const uidMappings = spec.linux?.uidMappings ?? [];
  const gidMappings = spec.linux?.gidMappings ?? [];
  const hasMappings = uidMappings.length > 0 || gidMappings.length > 0;

  if (userNs === undefined) {
    if (!hasMappings) return;
    const field = uidMappings.length > 0 ? 'linux.uidMappings' : 'linux.gidMappings';
    throw fieldError(field, undefined, 'need a user namespace in linux.namespaces');
  }
  if (userNs.path !== undefined) {
    if (hasMappings) {
      const reason = 'must be absent when joining a user namespace';
      throw fieldError('linux.uidMappings', userNs.path, reason);
    }
    return;
  }

  if (uidMappings.length === 0 || gidMappings.length === 0) {
    const field = uidMappings.length === 0 ? 'linux.uidMappings' : 'linux.gidMappings';
    throw fieldError(field, undefined, 'a new user namespace needs uid and gid mappings');
  }
  const user = spec.process?.user;
  // The helper becomes uid and gid 0 in the new namespace before it sets up the rootfs.
  if (!isMapped(0, uidMappings)) {
    throw fieldError('linux.uidMappings', uidMappings, 'must map container uid 0');
  }
  if (!isMapped(0, gidMappings)) {
    throw fieldError('linux.gidMappings', gidMappings, 'must map container gid 0');
  }
  if (user === undefined) return;

  if (!isMapped(user.uid, uidMappings)) {
    throw fieldError('process.user.uid', user.uid, 'is not mapped by linux.uidMappings');
  }
  const gids = [user.gid, ...(user.additionalGids ?? [])];
  for (const gid of gids.filter((id) => !isMapped(id, gidMappings))) {
    throw fieldError('process.user', gid, `gid ${gid} is not mapped by linux.gidMappings`);
  }
}

function isMapped(id: number, mappings: IdMapping[]): boolean {
  return mappings.some((m) => id >= m.containerID && id < m.containerID + m.size);
}

function checkUtsNames(spec: Spec): void {
  for (const field of ['hostname', 'domainname'] as const) {
    const name = spec[field];
    if (name === undefined || name === '') continue;
    if (findNamespace(spec.linux, 'uts') === undefined) {
      throw fieldError(field, name, 'needs a uts namespace in linux.namespaces');
    }
  }
}

// Offsets can be written only to a time namespace that no process has entered yet.
function checkTimeOffsets(spec: Spec): void {
  const offsets = spec.linux?.timeOffsets;
  if (offsets === undefined || Object.keys(offsets).length === 0) return;
  const timeNs = findNamespace(spec.linux, 'time');
  if (timeNs === undefined || timeNs.path !== undefined) {
    const reason = 'need a new time namespace in linux.namespaces';
    throw fieldError('linux.timeOffsets', offsets, reason);
  }
}

const IPC_SYSCTLS = new Set([
  'kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem',
  'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced',
]);

// The namespaced sysctls that runc accepts (libcontainer/configs/validate): any
// other key would change the host's kernel for every process.
function sysctlNamespace(key: string): string | undefined {
  if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) return 'ipc';
  if (key.startsWith('net.')) return 'network';
  if (key === 'kernel.domainname') return 'uts';
  return undefined;
}

// Returns whether two paths name the same namespace (nsfs files compare by inode).
function isSameNamespace(a: string, b: string): boolean {
  const statA = statSync(a);
  const statB = statSync(b);
  return statA.dev === statB.dev && statA.ino === statB.ino;
}

function checkSysctls(spec: Spec): void {
  for (const key of Object.keys(spec.linux?.sysctl ?? {})) {
    const field = joinPath('linux.sysctl', key);
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/.test(key)) {
      throw fieldError(field, key, 'must be a dotted sysctl name such as net.ipv4.ip_forward');
    }
    if (key === 'kernel.hostname') {
      throw fieldError(field, key, 'conflicts with the hostname field, so set hostname instead');
    }
    const type = sysctlNamespace(key);
    if (type === undefined) {
      throw fieldError(field, key, 'is not isolated by a namespace, so it would change the host');
    }

    const ns = findNamespace(spec.linux, type);
    if (ns === undefined) {
      throw fieldError(field, key, `needs a ${type} namespace in linux.namespaces`);
    }
    // Joining the host's network namespace by path isolates nothing.
    if (type === 'network' && ns.path && isSameNamespace(ns.path, '/proc/self/ns/net')) {
      throw fieldError(field, key, 'would change the host, whose network namespace is joined');
    }
  }
}

function realpathOrSelf(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}
