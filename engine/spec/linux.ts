// Checks for the `linux` section of config.json other than resources.

import {
  UINT32_MAX,
  expectAbsolutePath,
  expectArray,
  expectInteger,
  expectObject,
  expectString,
  expectStringArray,
  expectStringMap,
  fieldError,
  joinPath,
  optional,
} from './check.js';
import { checkNamespacePath, isNamespaceType } from './namespaces.js';
import type { IdMapping, Linux, Namespace } from './oci.js';
import { validateResources } from './resources.js';

/** Root filesystem propagation modes that the helper's `rootfs_propagation` accepts. */
export const ROOTFS_PROPAGATIONS = ['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared'];

/** The kernel's maximum number of lines in uid_map or gid_map (Linux 4.15+). */
const MAX_ID_MAPPINGS = 340;

/** Validates the `linux` object and returns it typed. */
export function validateLinux(value: unknown, path: string): Linux {
  const object = expectObject(value, path, {
    known: [
      'namespaces', 'uidMappings', 'gidMappings', 'timeOffsets', 'sysctl', 'resources',
      'cgroupsPath', 'rootfsPropagation', 'maskedPaths', 'readonlyPaths',
    ],
    unsupported: [
      'devices', 'seccomp', 'intelRdt', 'personality', 'netDevices', 'memoryPolicy', 'mountLabel',
    ],
  });

  optional(object, 'namespaces', path, checkNamespaces);
  optional(object, 'uidMappings', path, checkIdMappings);
  optional(object, 'gidMappings', path, checkIdMappings);
  optional(object, 'timeOffsets', path, checkTimeOffsets);
  optional(object, 'sysctl', path, expectStringMap);
  optional(object, 'resources', path, validateResources);
  optional(object, 'cgroupsPath', path, checkCgroupsPath);
  optional(object, 'rootfsPropagation', path, checkRootfsPropagation);
  optional(object, 'maskedPaths', path, checkAbsolutePaths);
  optional(object, 'readonlyPaths', path, checkAbsolutePaths);
  return object as Linux;
}

function checkNamespaces(value: unknown, path: string): void {
  const seen = new Set<string>();
  expectArray(value, path).forEach((item, i) => {
    const itemPath = joinPath(path, i);
    const ns = expectObject(item, itemPath, { known: ['type', 'path'], required: ['type'] });
    const type = expectString(ns.type, joinPath(itemPath, 'type'));
    if (!isNamespaceType(type)) {
      throw fieldError(joinPath(itemPath, 'type'), type, 'is not a namespace type');
    }
    if (seen.has(type)) throw fieldError(joinPath(itemPath, 'type'), type, 'is listed twice');
    seen.add(type);
    const nsPath = optional(ns, 'path', itemPath, expectAbsolutePath);
    if (nsPath !== undefined) checkNamespacePath(nsPath, type, joinPath(itemPath, 'path'));
  });
}

function checkIdMappings(value: unknown, path: string): void {
  const items = expectArray(value, path);
  if (items.length > MAX_ID_MAPPINGS) {
    throw fieldError(path, `${items.length} entries`, `must have at most ${MAX_ID_MAPPINGS}`);
  }
  const mappings = items.map((item, i) => checkIdMapping(item, joinPath(path, i)));

  for (let i = 0; i < mappings.length; i++) {
    for (let j = 0; j < i; j++) {
      checkNoOverlap(mappings[i]!, mappings[j]!, 'containerID', joinPath(path, i), path, j);
      checkNoOverlap(mappings[i]!, mappings[j]!, 'hostID', joinPath(path, i), path, j);
    }
  }
}

function checkIdMapping(item: unknown, path: string): IdMapping {
  const keys = ['containerID', 'hostID', 'size'];
  const object = expectObject(item, path, { known: keys, required: keys });
  const idRange = { min: 0, max: UINT32_MAX - 1 };
  const mapping = {
    containerID: expectInteger(object.containerID, joinPath(path, 'containerID'), idRange),
    hostID: expectInteger(object.hostID, joinPath(path, 'hostID'), idRange),
    size: expectInteger(object.size, joinPath(path, 'size'), { min: 1, max: UINT32_MAX }),
  };
  // The kernel rejects a range that wraps past 2^32 - 1, which is not a valid id.
  for (const side of ['containerID', 'hostID'] as const) {
    if (mapping[side] + mapping.size > UINT32_MAX) {
      throw fieldError(path, item, `${side} + size must not exceed ${UINT32_MAX}`);
    }
  }
  return mapping;
}

function checkNoOverlap(
  a: IdMapping,
  b: IdMapping,
  side: 'containerID' | 'hostID',
  aPath: string,
  listPath: string,
  bIndex: number,
): void {
  const aEnd = a[side] + a.size - 1;
  const bEnd = b[side] + b.size - 1;
  if (a[side] > bEnd || b[side] > aEnd) return;
  const idLabel = side === 'containerID' ? 'container IDs' : 'host IDs';
  const other = `${joinPath(listPath, bIndex)} (${idLabel} ${b[side]}-${bEnd})`;
  throw fieldError(aPath, a, `${idLabel} ${a[side]}-${aEnd} overlap ${other}`);
}

function checkTimeOffsets(value: unknown, path: string): void {
  const clocks = expectObject(value, path, { known: ['monotonic', 'boottime'] });
  for (const [clock, offset] of Object.entries(clocks)) {
    const clockPath = joinPath(path, clock);
    const object = expectObject(offset, clockPath, { known: ['secs', 'nanosecs'] });
    optional(object, 'secs', clockPath, (v, p) =>
      expectInteger(v, p, { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    );
    optional(object, 'nanosecs', clockPath, (v, p) =>
      expectInteger(v, p, { min: 0, max: 999999999 }),
    );
  }
}

// The path is joined to the cgroup root by the cgroup manager, so `..` could
// place the container's cgroup outside the engine's subtree.
function checkCgroupsPath(value: unknown, path: string): void {
  const text = expectString(value, path);
  if (text.split('/').includes('..')) throw fieldError(path, value, 'must not contain ..');
}

function checkRootfsPropagation(value: unknown, path: string): void {
  const mode = expectString(value, path);
  if (!ROOTFS_PROPAGATIONS.includes(mode)) {
    throw fieldError(path, value, `must be one of ${ROOTFS_PROPAGATIONS.join(', ')}`);
  }
}

function checkAbsolutePaths(value: unknown, path: string): void {
  expectStringArray(value, path).forEach((item, i) => expectAbsolutePath(item, joinPath(path, i)));
}

/** Returns the namespace entry of a type, if the spec lists it. */
export function findNamespace(linux: Linux | undefined, type: string): Namespace | undefined {
  return linux?.namespaces?.find((ns) => ns.type === type);
}
