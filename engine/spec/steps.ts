// The native helper's plan as typed steps, and its line format (native/PROTOCOL.md):
// one directive a line, fields separated by TAB, with `\\`, `\t` and `\n`
// standing for a backslash, a TAB and a newline inside a field.

import { formatHex } from './caps.js';
import type { NamespaceKind } from './namespaces.js';

export type PlanStep =
  | { directive: 'state_dir'; path: string }
  | { directive: 'ns'; kind: NamespaceKind }
  | { directive: 'ns_path'; kind: NamespaceKind; path: string }
  | { directive: 'time_offset'; clock: 'monotonic' | 'boottime'; secs: number; nanosecs: number }
  | { directive: 'rootfs'; path: string }
  | { directive: 'overlay'; lowerdir: string; upperdir: string; workdir: string }
  | { directive: 'rootfs_propagation'; mode: string }
  | MountStep
  | { directive: 'mkdir'; path: string; mode: number }
  | { directive: 'symlink'; target: string; linkpath: string }
  | DeviceStep
  | { directive: 'pivot' }
  | { directive: 'mask'; path: string }
  | { directive: 'readonly'; path: string }
  | { directive: 'root_readonly' }
  | { directive: 'sysctl'; key: string; value: string }
  | { directive: 'hostname'; name: string }
  | { directive: 'domainname'; name: string }
  | RlimitStep
  | { directive: 'oom_score_adj'; value: number }
  | { directive: 'umask'; mask: number }
  | { directive: 'user'; uid: number; gid: number; additionalGids: number[] }
  | CapsStep
  | { directive: 'no_new_privs' }
  | { directive: 'preserve_fds'; count: number }
  | { directive: 'cwd'; path: string }
  | { directive: 'env'; entry: string }
  | { directive: 'arg'; value: string }
  | { directive: 'exec_fifo'; path: string }
  | { directive: 'oom_file'; path: string }
  | { directive: 'target_pid'; pid: number }
  | { directive: 'join'; kind: NamespaceKind }
  | { directive: 'cgroup_dir'; path: string }
  | { directive: 'device_filter'; path: string }
  | DeviceRuleStep;

/** One device rule of the cgroup v2 device filter; -1 is any major or minor. */
export interface DeviceRuleStep {
  directive: 'device_rule';
  allow: boolean;
  type: 'a' | 'b' | 'c';
  major: number;
  minor: number;
  /** Some of r, w and m. */
  access: string;
}

/** One mount(2) call; `dest` is inside the container's root. */
export interface MountStep {
  directive: 'mount';
  source: string;
  dest: string;
  /** Filesystem type, or `bind` for MS_BIND with `flags` applied by a remount. */
  fstype: string;
  /** MS_* flags. */
  flags: number;
  /** MS_* propagation flags for a second mount(2) call, or 0. */
  propagation: number;
  data: string;
}

/** A device node; `path` is inside the container's root. */
export interface DeviceStep {
  directive: 'device';
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
}

/** setrlimit(2); -1 stands for RLIM_INFINITY. */
export interface RlimitStep {
  directive: 'rlimit';
  /** The OCI name, such as RLIMIT_NOFILE; only `resource` goes into the plan. */
  type: string;
  resource: number;
  soft: number;
  hard: number;
}

/** Capability sets as 64-bit masks, bit N for capability number N. */
export interface CapsStep {
  directive: 'caps';
  bounding: bigint;
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  ambient: bigint;
  /**
   * Ambient capabilities that the spec requests but that are left out of
   * `ambient` because the kernel raises one only if it is both permitted and
   * inheritable (PR_CAP_AMBIENT_RAISE fails with EPERM otherwise).
   */
  ambientNotRaised: string[];
}

const FIELD_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n' };

/** Escapes one plan field: backslash, TAB and newline. */
export function escapeField(field: string): string {
  return field.replace(/[\\\t\n]/g, (char) => FIELD_ESCAPES[char]!);
}

/** Reverses escapeField; a backslash before any other character is an error. */
export function unescapeField(field: string): string {
  return field.replace(/\\(.?)/gs, (_, next: string) => {
    if (next === '\\') return '\\';
    if (next === 't') return '\t';
    if (next === 'n') return '\n';
    throw new SyntaxError(`invalid escape \\${next} in plan field ${JSON.stringify(field)}`);
  });
}

function octal(value: number): string {
  return `0${value.toString(8)}`;
}

/** Returns the fields of a step after its directive, in protocol order. */
export function stepFields(step: PlanStep): string[] {
  switch (step.directive) {
    case 'state_dir': case 'rootfs': case 'mask': case 'readonly': case 'cwd':
    case 'exec_fifo': case 'oom_file': case 'cgroup_dir': case 'device_filter':
      return [step.path];
    case 'device_rule':
      return [step.allow ? 'allow' : 'deny', step.type, String(step.major), String(step.minor), step.access];
    case 'ns': case 'join':
      return [step.kind];
    case 'ns_path':
      return [step.kind, step.path];
    case 'time_offset':
      return [step.clock, String(step.secs), String(step.nanosecs)];
    case 'overlay':
      return [step.lowerdir, step.upperdir, step.workdir];
    case 'rootfs_propagation':
      return [step.mode];
    case 'mount':
      return [step.source, step.dest, step.fstype, formatHex(step.flags),
        formatHex(step.propagation), step.data];
    case 'mkdir':
      return [step.path, octal(step.mode)];
    case 'symlink':
      return [step.target, step.linkpath];
    case 'device':
      return [step.path, step.type, String(step.major), String(step.minor), octal(step.mode),
        String(step.uid), String(step.gid)];
    case 'pivot': case 'root_readonly': case 'no_new_privs':
      return [];
    case 'sysctl':
      return [step.key, step.value];
    case 'hostname': case 'domainname':
      return [step.name];
    case 'rlimit':
      return [String(step.resource), String(step.soft), String(step.hard)];
    case 'oom_score_adj':
      return [String(step.value)];
    case 'umask':
      return [octal(step.mask)];
    case 'user':
      return [String(step.uid), String(step.gid), step.additionalGids.join(',')];
    case 'caps':
      return [step.bounding, step.effective, step.permitted, step.inheritable, step.ambient]
        .map((mask) => formatHex(mask));
    case 'preserve_fds':
      return [String(step.count)];
    case 'env':
      return [step.entry];
    case 'arg':
      return [step.value];
    case 'target_pid':
      return [String(step.pid)];
  }
}

/** Writes steps in the plan file format, one line each, ending with a newline. */
export function serializePlan(steps: readonly PlanStep[]): string {
  return steps
    .map((step) => [step.directive, ...stepFields(step)].map(escapeField).join('\t') + '\n')
    .join('');
}

/** Splits plan text into lines of unescaped fields, the directive first. */
export function parsePlanLines(text: string): string[][] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line) => line.split('\t').map(unescapeField));
}
