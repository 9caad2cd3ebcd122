// Mount options as fstab and runc write them, turned into mount(2) flags and data.

import { fieldError, joinPath, unsupportedField } from './check.js';

/** mount(2) flags from linux/mount.h. */
export const MS = Object.freeze({
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  REC: 0x4000,
  SILENT: 0x8000,
  POSIXACL: 0x10000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  I_VERSION: 0x800000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
});

interface FlagOption {
  /** True when the option clears the flag, as `rw` clears MS_RDONLY. */
  clear: boolean;
  flag: number;
}

// The names and meanings of runc's mount flag table (libcontainer/specconv/
// spec_linux.go), plus symfollow and nosymfollow (MS_NOSYMFOLLOW, Linux 5.10).
const FLAG_OPTIONS: Readonly<Record<string, FlagOption>> = Object.freeze({
  acl: { clear: false, flag: MS.POSIXACL },
  async: { clear: true, flag: MS.SYNCHRONOUS },
  atime: { clear: true, flag: MS.NOATIME },
  bind: { clear: false, flag: MS.BIND },
  defaults: { clear: false, flag: 0 },
  dev: { clear: true, flag: MS.NODEV },
  diratime: { clear: true, flag: MS.NODIRATIME },
  dirsync: { clear: false, flag: MS.DIRSYNC },
  exec: { clear: true, flag: MS.NOEXEC },
  iversion: { clear: false, flag: MS.I_VERSION },
  lazytime: { clear: false, flag: MS.LAZYTIME },
  loud: { clear: true, flag: MS.SILENT },
  mand: { clear: false, flag: MS.MANDLOCK },
  noacl: { clear: true, flag: MS.POSIXACL },
  noatime: { clear: false, flag: MS.NOATIME },
  nodev: { clear: false, flag: MS.NODEV },
  nodiratime: { clear: false, flag: MS.NODIRATIME },
  noexec: { clear: false, flag: MS.NOEXEC },
  noiversion: { clear: true, flag: MS.I_VERSION },
  nolazytime: { clear: true, flag: MS.LAZYTIME },
  nomand: { clear: true, flag: MS.MANDLOCK },
  norelatime: { clear: true, flag: MS.RELATIME },
  nostrictatime: { clear: true, flag: MS.STRICTATIME },
  nosuid: { clear: false, flag: MS.NOSUID },
  nosymfollow: { clear: false, flag: MS.NOSYMFOLLOW },
  rbind: { clear: false, flag: MS.BIND | MS.REC },
  relatime: { clear: false, flag: MS.RELATIME },
  remount: { clear: false, flag: MS.REMOUNT },
  ro: { clear: false, flag: MS.RDONLY },
  rw: { clear: true, flag: MS.RDONLY },
  silent: { clear: false, flag: MS.SILENT },
  strictatime: { clear: false, flag: MS.STRICTATIME },
  suid: { clear: true, flag: MS.NOSUID },
  symfollow: { clear: true, flag: MS.NOSYMFOLLOW },
  sync: { clear: false, flag: MS.SYNCHRONOUS },
});

/** Propagation options and the flags of the mount(2) call that sets them. */
export const PROPAGATION_OPTIONS: Readonly<Record<string, number>> = Object.freeze({
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
});

// Options from the OCI spec (1.1+) and runc extensions that need mount_setattr(2),
// idmapped mounts or a copy step. Passing them to the filesystem as data would
// fail or be ignored, so they are rejected by name.
const UNSUPPORTED_OPTIONS = new Set([
  'rro', 'rrw', 'rnosuid', 'rsuid', 'rnodev', 'rdev', 'rnoexec', 'rexec',
  'rnodiratime', 'rdiratime', 'rrelatime', 'rnorelatime', 'rnoatime', 'ratime',
  'rstrictatime', 'rnostrictatime', 'rnosymfollow', 'rsymfollow',
  'idmap', 'ridmap', 'tmpcopyup',
]);

export interface MountOptions {
  /** MS_* flags for the mount(2) call, including MS_BIND and MS_REC for bind mounts. */
  flags: number;
  /** MS_* propagation flags for a second mount(2) call, or 0. */
  propagation: number;
  /** Options that are not flags, comma-joined, passed to the filesystem as data. */
  data: string;
  bind: boolean;
  recursive: boolean;
}

/**
 * Parses OCI mount options into flags, propagation and filesystem data.
 * `path` names the options array in errors, such as `mounts[2].options`.
 */
export function parseMountOptions(options: readonly string[], path: string): MountOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];

  options.forEach((option, i) => {
    const optionPath = joinPath(path, i);
    const flagOption = FLAG_OPTIONS[option];
    if (flagOption !== undefined) {
      flags = flagOption.clear ? flags & ~flagOption.flag : flags | flagOption.flag;
      return;
    }
    const propagationFlag = PROPAGATION_OPTIONS[option];
    if (propagationFlag !== undefined) {
      propagation = propagationFlag;
      return;
    }
    if (UNSUPPORTED_OPTIONS.has(option)) throw unsupportedField(optionPath, option);
    if (option === '' || option.includes(',')) {
      throw fieldError(optionPath, option, 'must be one non-empty option without commas');
    }
    data.push(option);
  });

  return {
    flags: flags >>> 0,
    propagation,
    data: data.join(','),
    bind: (flags & MS.BIND) !== 0,
    recursive: (flags & MS.REC) !== 0,
  };
}
