// Mount tables and cgroup file contents in the kernel's own format, for the
// fake cgroupfs. Values are the kernel's defaults for a new cgroup.

/** The unlimited value v1 prints with 4 KiB pages. */
export const v1Unlimited = '9223372036854771712';

/** Mount table lines of a hybrid host, as in /proc/self/mountinfo. */
export const hybridMountinfo = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct',
  '34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices',
  '37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer',
  '38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio',
  '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

/** A systemd-era host where cpu and cpuacct share one hierarchy. */
export const coMountedMountinfo = [
  '25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
  '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 ' +
    'cgroup2 rw,nsdelegate',
  '27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup ' +
    'cgroup rw,xattr,name=systemd',
  '30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup ' +
    'cgroup rw,cpu,cpuacct',
  '31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup ' +
    'cgroup rw,memory',
  '32 25 0:29 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup ' +
    'cgroup rw,pids',
].join('\n');

/** A pure v2 host, as on a systemd guest. */
export const unifiedMountinfo =
  '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 ' +
  'rw,nsdelegate,memory_recursiveprot';

export const v1Files: Record<string, Record<string, string>> = {
  memory: {
    'memory.limit_in_bytes': v1Unlimited,
    'memory.soft_limit_in_bytes': v1Unlimited,
    'memory.memsw.limit_in_bytes': v1Unlimited,
    'memory.usage_in_bytes': '0',
    'memory.max_usage_in_bytes': '0',
    'memory.memsw.usage_in_bytes': '0',
    'memory.kmem.usage_in_bytes': '0',
    'memory.failcnt': '0',
    'memory.swappiness': '60',
    // As on kernels before 5.11, where a new cgroup is not hierarchical.
    'memory.use_hierarchy': '0',
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    'memory.stat': 'cache 0\nrss 0\n',
  },
  pids: { 'pids.max': 'max', 'pids.current': '0', 'pids.events': 'max 0\n' },
  cpu: {
    'cpu.shares': '1024',
    'cpu.cfs_period_us': '100000',
    'cpu.cfs_quota_us': '-1',
    'cpu.idle': '0',
    'cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n',
  },
  cpuacct: { 'cpuacct.usage': '0', 'cpuacct.stat': 'user 0\nsystem 0\n' },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '' },
  blkio: {
    'blkio.throttle.read_bps_device': '',
    'blkio.throttle.write_bps_device': '',
    'blkio.throttle.read_iops_device': '',
    'blkio.throttle.write_iops_device': '',
    'blkio.throttle.io_service_bytes_recursive': 'Total 0\n',
    'blkio.throttle.io_serviced_recursive': 'Total 0\n',
  },
  freezer: { 'freezer.state': 'THAWED' },
  devices: {},
};

const pressure = 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n' +
  'full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n';

export const v2Core: Record<string, string> = {
  'cgroup.procs': '',
  'cgroup.subtree_control': '',
  'cgroup.events': 'populated 0\nfrozen 0\n',
  'cgroup.freeze': '0',
  'cgroup.type': 'domain',
  'cgroup.max.depth': 'max',
  'cgroup.max.descendants': 'max',
  'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n',
  'cpu.pressure': pressure,
  'memory.pressure': pressure,
  'io.pressure': pressure,
};

export const v2Files: Record<string, Record<string, string>> = {
  memory: {
    'memory.max': 'max', 'memory.high': 'max', 'memory.low': '0', 'memory.min': '0',
    'memory.swap.max': 'max', 'memory.current': '0', 'memory.swap.current': '0',
    'memory.peak': '0', 'memory.stat': 'anon 0\nfile 0\n',
    'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n',
  },
  pids: { 'pids.max': 'max', 'pids.current': '0', 'pids.events': 'max 0\n' },
  cpu: { 'cpu.weight': '100', 'cpu.max': 'max 100000', 'cpu.idle': '0' },
  io: { 'io.weight': 'default 100', 'io.max': '', 'io.stat': '' },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '' },
};
