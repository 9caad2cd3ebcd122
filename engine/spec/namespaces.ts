// Namespace types: the OCI names, the kernel's names, and the check that a path
// given to join is a namespace of the right type.

import { closeSync, openSync, readlinkSync } from 'node:fs';

import { fieldError } from './check.js';
import type { NamespaceType } from './oci.js';

/** A namespace as the kernel and the plan name it (`/proc/<pid>/ns/<kind>`). */
export type NamespaceKind = 'pid' | 'net' | 'mnt' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

/** The kernel name of each OCI namespace type. */
export const NAMESPACE_KINDS: Readonly<Record<NamespaceType, NamespaceKind>> = Object.freeze({
  pid: 'pid',
  network: 'net',
  mount: 'mnt',
  ipc: 'ipc',
  uts: 'uts',
  user: 'user',
  cgroup: 'cgroup',
  time: 'time',
});

/** Returns whether a string is an OCI namespace type. */
export function isNamespaceType(value: string): value is NamespaceType {
  return Object.hasOwn(NAMESPACE_KINDS, value);
}

/**
 * Checks that `nsPath` is a namespace file of the given type, such as
 * `/proc/1234/ns/net` or a bind mount of one under /run/netns.
 *
 * An open nsfs file reads back through /proc/self/fd as `net:[4026531840]`
 * whatever path it was opened by, while any other file reads back as an
 * absolute path, so the link text distinguishes the two without statfs.
 */
export function checkNamespacePath(nsPath: string, type: NamespaceType, field: string): void {
  const kind = NAMESPACE_KINDS[type];
  let fd: number;
  try {
    fd = openSync(nsPath, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw fieldError(field, nsPath, `cannot be opened (${code})`);
  }

  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } finally {
    closeSync(fd);
  }

  const match = /^([a-z_]+):\[(\d+)\]$/.exec(target);
  if (match === null) {
    throw fieldError(field, nsPath, `is not a namespace file (it resolves to ${target})`);
  }
  if (match[1] !== kind) {
    throw fieldError(field, nsPath, `is a ${match[1]} namespace, not a ${kind} namespace`);
  }
}
