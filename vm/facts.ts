// Kernel facts: one shell script, run the same way on every target, and its parser.
import { IsolabError } from '../engine/errors.js';
import type { CgroupFacts, KernelFacts, Machine } from './types.js';

/** Kernel config options that decide what the scenarios can check. */
export const SELECTED_CONFIG = [
  'MEMCG', 'MEMCG_V1', 'MEMCG_KMEM', 'CGROUP_PIDS', 'CGROUP_FREEZER', 'CGROUP_BPF',
  'CPUSETS', 'CPUSETS_V1', 'CFS_BANDWIDTH', 'FAIR_GROUP_SCHED', 'BLK_CGROUP', 'PSI',
  'USER_NS', 'PID_NS', 'NET_NS', 'UTS_NS', 'IPC_NS', 'TIME_NS', 'SWAP', 'ZSWAP', 'ZRAM',
  'OVERLAY_FS', 'VETH', 'BRIDGE', 'SECCOMP',
];

// Each section starts with a line "@@ name"; the parser reads them by name. The
// config comes from /boot (Debian, and the qemu guest, whose init copies it
// there) or /proc/config.gz.
const FACTS_SCRIPT = `
echo "@@ release"; uname -r
echo "@@ build"; uname -v
echo "@@ cgroupfs"; stat -fc %T /sys/fs/cgroup
echo "@@ v2"
for f in /sys/fs/cgroup/cgroup.controllers /sys/fs/cgroup/unified/cgroup.controllers; do
  if [ -r "$f" ]; then cat "$f"; break; fi
done
echo "@@ mounts"; grep ' - cgroup ' /proc/self/mountinfo || true
echo "@@ kernel-controllers"; cat /proc/cgroups
echo "@@ cpus"; getconf _NPROCESSORS_ONLN
echo "@@ meminfo"; grep -E '^(MemTotal|SwapTotal):' /proc/meminfo
echo "@@ config"
pattern='^(# )?CONFIG_(${SELECTED_CONFIG.join('|')})[= ]'
if [ -r "/boot/config-$(uname -r)" ]; then grep -E "$pattern" "/boot/config-$(uname -r)" || true
elif [ -r /proc/config.gz ]; then zcat /proc/config.gz | grep -E "$pattern" || true
fi
`;

/** Runs the facts script on a machine and parses its output. */
export async function readKernelFacts(machine: Machine): Promise<KernelFacts> {
  const result = await machine.run(FACTS_SCRIPT, { timeoutMs: 60_000 });
  if (result.exitCode !== 0) {
    throw new IsolabError({
      kind: 'system',
      op: 'read kernel facts of machine',
      value: machine.name,
      reason: `the facts script exited with ${result.exitCode ?? result.signal}: ${result.stderr.trim()}`,
    });
  }
  return parseKernelFacts(result.stdout);
}

/** Parses the facts script's output. */
export function parseKernelFacts(output: string): KernelFacts {
  const sections = splitSections(output);
  const meminfo = sections.get('meminfo') ?? [];
  return {
    release: (sections.get('release') ?? [''])[0].trim(),
    build: (sections.get('build') ?? [''])[0].trim(),
    cgroup: parseCgroup(sections),
    config: parseConfig(sections.get('config') ?? []),
    cpus: Number((sections.get('cpus') ?? ['0'])[0]),
    memoryBytes: meminfoBytes(meminfo, 'MemTotal'),
    swapBytes: meminfoBytes(meminfo, 'SwapTotal'),
  };
}

function splitSections(output: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of output.split('\n')) {
    const header = /^@@ (\S+)$/.exec(line);
    if (header) {
      current = [];
      sections.set(header[1], current);
    } else if (current && line.length > 0) {
      current.push(line);
    }
  }
  return sections;
}

function parseCgroup(sections: Map<string, string[]>): CgroupFacts {
  const fsType = (sections.get('cgroupfs') ?? [''])[0].trim();
  const v2Controllers = (sections.get('v2') ?? []).join(' ').split(/\s+/).filter(Boolean);
  const v1Controllers = new Set<string>();
  for (const line of sections.get('mounts') ?? []) {
    // mountinfo: "... - cgroup SOURCE rw,cpu,cpuacct"; named hierarchies carry no controller.
    const superOptions = line.split(' - ')[1]?.split(' ')[2] ?? '';
    for (const option of superOptions.split(',')) {
      if (option !== 'rw' && option !== 'ro' && !option.includes('=')) v1Controllers.add(option);
    }
  }
  const kernelControllers = (sections.get('kernel-controllers') ?? [])
    .filter((line) => !line.startsWith('#'))
    .map((line) => line.split(/\s+/))
    .filter((fields) => fields[3] === '1')
    .map((fields) => fields[0]);
  return {
    version: fsType === 'cgroup2fs' ? 2 : 1,
    v2Controllers,
    v1Controllers: [...v1Controllers].sort(),
    kernelControllers,
  };
}

function parseConfig(lines: string[]): Record<string, string> {
  const config: Record<string, string> = {};
  for (const line of lines) {
    const notSet = /^# CONFIG_(\w+) is not set/.exec(line);
    if (notSet) {
      config[notSet[1]] = 'n';
      continue;
    }
    const set = /^CONFIG_(\w+)=(.*)$/.exec(line);
    if (set) config[set[1]] = set[2].replace(/^"(.*)"$/, '$1');
  }
  return config;
}

function meminfoBytes(lines: string[], key: string): number {
  const line = lines.find((entry) => entry.startsWith(`${key}:`));
  const kib = line ? Number(/(\d+)/.exec(line)?.[1] ?? 0) : 0;
  return kib * 1024;
}
