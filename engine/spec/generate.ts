// The default config.json, as `runc spec` writes it, with the changes isolab needs.

import type { Spec } from './oci.js';

export interface DefaultSpecOptions {
  /** root.path; relative paths are resolved against the bundle. Default `rootfs`. */
  rootfs?: string;
  /**
   * Adds a user namespace that maps container ids 0-65535 to host ids
   * 100000-165535, so container root is an unprivileged user on the host.
   */
  userns?: boolean;
}

/** First host uid and gid of the `userns` mapping. */
export const USERNS_HOST_ID = 100000;

/** Number of ids in the `userns` mapping. */
export const USERNS_SIZE = 65536;

const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/**
 * Returns the spec that `runc spec` (runc 1.1) writes, with three changes.
 * `process.terminal` is false, because isolab has no terminal support. There
 * is no ambient set, because the kernel raises an ambient capability only if
 * it is also inheritable, and runc's list has no inheritable set. A cgroup
 * namespace is added, so /sys/fs/cgroup shows only the container's cgroup.
 */
export function defaultSpec(options: DefaultSpecOptions = {}): Spec {
  const spec: Spec = {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...DEFAULT_CAPS],
        effective: [...DEFAULT_CAPS],
        permitted: [...DEFAULT_CAPS],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: options.rootfs ?? 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: defaultMounts(),
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [
        { type: 'pid' },
        { type: 'network' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        { type: 'cgroup' },
      ],
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
        '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  } as Spec;

  if (options.userns) {
    const mapping = [{ containerID: 0, hostID: USERNS_HOST_ID, size: USERNS_SIZE }];
    spec.linux!.namespaces!.push({ type: 'user' });
    spec.linux!.uidMappings = mapping;
    spec.linux!.gidMappings = mapping.map((m) => ({ ...m }));
  }
  return spec;
}

function defaultMounts(): NonNullable<Spec['mounts']> {
  return [
    { destination: '/proc', type: 'proc', source: 'proc' },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
    {
      destination: '/dev/mqueue',
      type: 'mqueue',
      source: 'mqueue',
      options: ['nosuid', 'noexec', 'nodev'],
    },
    {
      destination: '/sys',
      type: 'sysfs',
      source: 'sysfs',
      options: ['nosuid', 'noexec', 'nodev', 'ro'],
    },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
    },
  ];
}
