// Options of the qemu target.
import type { CgroupMode } from '../types.js';
import type { AccelRequest } from './accel.js';

export interface QemuOptions {
  /** A kernel name, optionally with a cached package version: debian-6.1@6.1.192-3. */
  kernel?: string;
  /** cgroup v2 (default) or v1 hierarchies with cgroup2 beside them. */
  cgroup?: CgroupMode;
  /** Guest memory in MiB (default 2048). */
  memoryMiB?: number;
  /** Guest CPUs (default 2). */
  cpus?: number;
  /** A swap file of this many MiB on the work disk (default 0: none). */
  swapMiB?: number;
  /** Size of the sparse work disk in GiB (default 8). */
  workDiskGiB?: number;
  accel?: AccelRequest;
  /** The VM's name (default vm-<random>): [a-z0-9-], up to 40 characters. */
  name?: string;
  /** The host port on 127.0.0.1 forwarded to the guest's sshd (default 0: a free one). */
  sshPort?: number;
  cacheDir?: string;
  runDir?: string;
  /** Fails the boot when SSH is not ready within this many milliseconds (default 300 000). */
  bootTimeoutMs?: number;
  /** No console output and no SSH response for this long means a hung kernel (default 30 000; 0 turns it off). */
  hangTimeoutMs?: number;
  /** Leaves QEMU running after this process exits, for `isolab vm boot`. */
  detached?: boolean;
  /** A script that replaces the initramfs's /init. */
  customInit?: string;
  /** Prints every kernel message on the console, which slows boot under TCG. */
  verboseConsole?: boolean;
}
