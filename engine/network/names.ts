// Names of the host objects a state root's containers use. Linux limits
// interface names to 15 characters (IFNAMSIZ - 1).
import { createHash } from 'node:crypto';
import type { StateStore } from '../state.js';

function shortHash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** Returns the root's tag: `0` for /run/isolab, else 6 hex digits of its cgroup parent. */
export function rootTag(store: StateStore): string {
  return store.cgroupParent === 'isolab' ? '0' : shortHash(store.cgroupParent, 6);
}

/** Returns the root's bridge name: isolab0 for the default root. */
export function bridgeName(store: StateStore): string {
  return `isolab${rootTag(store)}`;
}

/** Returns the name of the host end of a container's veth pair: `isl` and 8 hex digits. */
export function hostVethName(store: StateStore, id: string): string {
  return `isl${shortHash(`${store.root}\0${id}`, 8)}`;
}

/** Returns the name of the inet table that drops forwarded traffic of the root's bridge. */
export function filterTableName(store: StateStore): string {
  return `isolab_${rootTag(store)}`;
}

/** Returns the name of the ip table that contains a container's published-port rules. */
export function publishTableName(store: StateStore, id: string): string {
  return `isolab_${rootTag(store)}_${hostVethName(store, id).slice(3)}`;
}

/** Prefix of every host interface and nftables table the engine makes. */
export const HOST_OBJECT_PREFIXES = ['isolab', 'isl'];
