// Capability and rlimit names as the OCI spec writes them, with their kernel numbers.

/** Capability numbers from linux/capability.h (CAP_LAST_CAP is 40 since Linux 5.9). */
export const CAPABILITIES: Readonly<Record<string, number>> = Object.freeze({
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
});

/** The capability sets of an OCI `process.capabilities` object. */
export const CAPABILITY_SETS = [
  'bounding',
  'effective',
  'inheritable',
  'permitted',
  'ambient',
] as const;

export type CapabilitySet = (typeof CAPABILITY_SETS)[number];

/** Resource numbers for setrlimit(2) on x86_64 (asm-generic/resource.h). */
export const RLIMITS: Readonly<Record<string, number>> = Object.freeze({
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
});

/** RLIM_INFINITY as the plan writes it. */
export const RLIM_INFINITY = -1;

/**
 * 2^64 - 1 (RLIM_INFINITY as a uint64) after JSON.parse, which rounds it to 2^64
 * because a double has 53 bits of mantissa.
 */
export const RLIM_INFINITY_JSON = 18446744073709551615;

/** Returns whether a name is a capability that the kernel defines. */
export function isCapability(name: string): boolean {
  return Object.hasOwn(CAPABILITIES, name);
}

/** Returns whether a name is an rlimit type. */
export function isRlimit(name: string): boolean {
  return Object.hasOwn(RLIMITS, name);
}

/** Computes the 64-bit mask of capability names; the names must be valid. */
export function capabilityMask(names: readonly string[]): bigint {
  let mask = 0n;
  for (const name of names) {
    const bit = CAPABILITIES[name];
    if (bit === undefined) throw new RangeError(`unknown capability ${name}`);
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

/** Lists the capability names in a mask, in number order. */
export function capabilityNames(mask: bigint): string[] {
  return Object.entries(CAPABILITIES)
    .filter(([, bit]) => (mask & (1n << BigInt(bit))) !== 0n)
    .map(([name]) => name);
}

/** Formats a mask or flag set as the plan's hex field, such as `0x20000420`. */
export function formatHex(value: bigint | number): string {
  return `0x${value.toString(16)}`;
}
