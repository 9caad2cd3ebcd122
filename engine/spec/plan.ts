// Turns a validated spec into the native helper's plan: a list of typed steps
// that is built first and carried out second, so a report can show exactly what
// will be mounted, created and set before anything happens.

import path from 'node:path';

import { IsolabError } from '../errors.js';
import {
  CAPABILITIES,
  RLIMITS,
  RLIM_INFINITY,
  RLIM_INFINITY_JSON,
  capabilityMask,
} from './caps.js';
import { planCgroupMount, readCgroupMountLayout, type CgroupMountLayout } from './cgroupmount.js';
import { fieldError } from './check.js';
import { findNamespace } from './linux.js';
import { MS, parseMountOptions } from './mountopts.js';
import { NAMESPACE_KINDS, isNamespaceType } from './namespaces.js';
import type { Mount, NamespaceType, Process, Spec } from './oci.js';
import { validateProcess } from './process.js';
import { overlayDirs } from './rootfs.js';
import type { CapsStep, DeviceRuleStep, PlanStep } from './steps.js';

export { serializePlan, type PlanStep } from './steps.js';

export interface CreatePlanContext {
  /** The container's state directory; overlay layers go under it. */
  stateDir: string;
  /** The fifo that `start` opens. */
  execFifo: string;
  /** The cgroup file with the OOM kill count, read by the monitor at exit. */
  oomFile?: string;
  /** The cgroup v2 directory to attach the device filter to, when devices are on cgroup v2. */
  deviceFilter?: string;
  /** The rules of that filter, in OCI order: the last rule that matches decides. */
  deviceRules?: DeviceRuleStep[];
  /** The bundle, to resolve a relative root.path; parseSpec already makes it absolute. */
  bundle?: string;
  /** The cgroup hierarchies for a `cgroup` mount; read from /proc/self/mountinfo if absent. */
  cgroupLayout?: CgroupMountLayout;
  /** Number of fds from 3 up to keep open in the process. */
  preserveFds?: number;
}

// The devices of the minimal /dev, with their numbers from the kernel's
// Documentation/admin-guide/devices.txt.
const MINIMAL_DEVICES = [
  { name: 'null', major: 1, minor: 3 },
  { name: 'zero', major: 1, minor: 5 },
  { name: 'full', major: 1, minor: 7 },
  { name: 'random', major: 1, minor: 8 },
  { name: 'urandom', major: 1, minor: 9 },
  { name: 'tty', major: 5, minor: 0 },
];

const DEV_SYMLINKS = [
  { target: '/proc/self/fd', linkpath: '/dev/fd' },
  { target: '/proc/self/fd/0', linkpath: '/dev/stdin' },
  { target: '/proc/self/fd/1', linkpath: '/dev/stdout' },
  { target: '/proc/self/fd/2', linkpath: '/dev/stderr' },
  { target: 'pts/ptmx', linkpath: '/dev/ptmx' },
];

/** Builds the steps that create a container from a spec that parseSpec accepted. */
export function buildCreatePlan(spec: Spec, ctx: CreatePlanContext): PlanStep[] {
  if (spec.process === undefined) {
    throw fieldError('process', undefined, 'required to create a container');
  }
  const steps: PlanStep[] = [{ directive: 'state_dir', path: ctx.stateDir }];

  for (const ns of spec.linux?.namespaces ?? []) {
    const kind = NAMESPACE_KINDS[ns.type];
    if (ns.path) steps.push({ directive: 'ns_path', kind, path: ns.path });
    else steps.push({ directive: 'ns', kind });
  }
  for (const [clock, offset] of Object.entries(spec.linux?.timeOffsets ?? {})) {
    steps.push({
      directive: 'time_offset',
      clock: clock as 'monotonic' | 'boottime',
      secs: offset.secs ?? 0,
      nanosecs: offset.nanosecs ?? 0,
    });
  }

  if (findNamespace(spec.linux, 'mount') !== undefined) steps.push(...rootfsSteps(spec, ctx));

  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    steps.push({ directive: 'sysctl', key, value });
  }
  if (spec.hostname) steps.push({ directive: 'hostname', name: spec.hostname });
  if (spec.domainname) steps.push({ directive: 'domainname', name: spec.domainname });

  steps.push(...processSteps(spec.process, ctx.preserveFds ?? 0));
  steps.push({ directive: 'exec_fifo', path: ctx.execFifo });
  if (ctx.oomFile !== undefined) steps.push({ directive: 'oom_file', path: ctx.oomFile });
  if (ctx.deviceFilter !== undefined) {
    steps.push({ directive: 'device_filter', path: ctx.deviceFilter }, ...(ctx.deviceRules ?? []));
  }
  return steps;
}

// The root filesystem: everything from `rootfs` to `root_readonly`.
function rootfsSteps(spec: Spec, ctx: CreatePlanContext): PlanStep[] {
  const rootPath = path.resolve(ctx.bundle ?? '/', spec.root?.path ?? 'rootfs');
  const steps: PlanStep[] = [];

  if (spec.annotations?.['isolab.rootfs'] === 'overlay') {
    const dirs = overlayDirs(ctx.stateDir);
    steps.push({ directive: 'rootfs', path: dirs.rootfs });
    steps.push({
      directive: 'overlay',
      lowerdir: rootPath,
      upperdir: dirs.upper,
      workdir: dirs.work,
    });
  } else {
    steps.push({ directive: 'rootfs', path: rootPath });
  }
  const propagation = spec.linux?.rootfsPropagation ?? 'rprivate';
  steps.push({ directive: 'rootfs_propagation', mode: propagation });

  const readonlyAfterPivot: string[] = [];
  let layout = ctx.cgroupLayout;
  (spec.mounts ?? []).forEach((mount, i) => {
    const isCgroup = mount.type === 'cgroup';
    if (isCgroup) layout ??= readCgroupMountLayout();
    steps.push(...mountSteps(mount, `mounts[${i}]`, layout, readonlyAfterPivot));
  });
  if (needsMinimalDev(spec.mounts ?? [])) steps.push(...minimalDevSteps());

  steps.push({ directive: 'pivot' });
  for (const masked of spec.linux?.maskedPaths ?? []) {
    steps.push({ directive: 'mask', path: masked });
  }
  for (const ro of [...(spec.linux?.readonlyPaths ?? []), ...readonlyAfterPivot]) {
    steps.push({ directive: 'readonly', path: ro });
  }
  if (spec.root?.readonly) steps.push({ directive: 'root_readonly' });
  return steps;
}

function mountSteps(
  mount: Mount,
  field: string,
  layout: CgroupMountLayout | undefined,
  readonlyAfterPivot: string[],
): PlanStep[] {
  const options = parseMountOptions(mount.options ?? [], `${field}.options`);
  const dest = mount.destination;
  const isBind = options.bind || mount.type === 'bind';

  if (!isBind && mount.type === 'cgroup' && layout !== undefined) {
    const planned = planCgroupMount(dest, options.flags, options.propagation, layout);
    readonlyAfterPivot.push(...planned.readonlyAfterPivot);
    return planned.steps;
  }

  // The helper creates a missing mount point: a directory, or an empty file
  // for a bind of a file.
  return [{
    directive: 'mount',
    source: mount.source ?? mount.type ?? 'none',
    dest,
    fstype: isBind ? 'bind' : (mount.type ?? ''),
    flags: isBind ? (options.flags | MS.BIND) >>> 0 : options.flags,
    propagation: options.propagation,
    data: options.data,
  }];
}

// runc skips its own /dev setup when the spec binds /dev. A devtmpfs on /dev
// already has every device node, so the setup is skipped for it too.
function needsMinimalDev(mounts: Mount[]): boolean {
  return !mounts.some((mount) => {
    if (path.posix.normalize(mount.destination) !== '/dev') return false;
    const options = mount.options ?? [];
    return mount.type === 'devtmpfs' || mount.type === 'bind' || options.includes('bind') ||
      options.includes('rbind');
  });
}

function minimalDevSteps(): PlanStep[] {
  const steps: PlanStep[] = MINIMAL_DEVICES.map((device) => ({
    directive: 'device',
    path: `/dev/${device.name}`,
    type: 'c',
    major: device.major,
    minor: device.minor,
    mode: 0o666,
    uid: 0,
    gid: 0,
  }));
  for (const link of DEV_SYMLINKS) steps.push({ directive: 'symlink', ...link });
  return steps;
}

export interface ExecPlanContext {
  /** The container's init, as a host pid. */
  targetPid: number;
  /** Namespaces to join by OCI type: all of the container's, or a subset for control runs. */
  namespaces: NamespaceType[];
  /** cgroup v2 directory to clone the process into. */
  cgroupDir?: string;
  /** Number of fds from 3 up to keep open in the process. */
  preserveFds?: number;
}

/** Builds the steps that run one more process in a running container. */
export function buildExecPlan(process: Process, ctx: ExecPlanContext): PlanStep[] {
  validateProcess(process, 'process');
  if (!Number.isSafeInteger(ctx.targetPid) || ctx.targetPid <= 0) {
    throw new IsolabError({ kind: 'invalid-input', op: 'plan exec', value: String(ctx.targetPid),
      reason: 'the target pid must be a positive integer' });
  }

  const steps: PlanStep[] = [{ directive: 'target_pid', pid: ctx.targetPid }];
  for (const type of new Set(ctx.namespaces)) {
    if (!isNamespaceType(type)) {
      throw new IsolabError({ kind: 'invalid-input', op: 'plan exec', value: String(type),
        reason: 'not a namespace type' });
    }
    steps.push({ directive: 'join', kind: NAMESPACE_KINDS[type] });
  }
  if (ctx.cgroupDir !== undefined) steps.push({ directive: 'cgroup_dir', path: ctx.cgroupDir });
  steps.push(...processSteps(process, ctx.preserveFds ?? 0));
  return steps;
}

/** Builds the steps that set up a process: rlimits, ids, capabilities, cwd, env and argv. */
export function processSteps(process: Process, preserveFds: number): PlanStep[] {
  const steps: PlanStep[] = [];
  for (const rlimit of process.rlimits ?? []) {
    steps.push({
      directive: 'rlimit',
      type: rlimit.type,
      resource: RLIMITS[rlimit.type]!,
      soft: rlimit.soft === RLIM_INFINITY_JSON ? RLIM_INFINITY : rlimit.soft,
      hard: rlimit.hard === RLIM_INFINITY_JSON ? RLIM_INFINITY : rlimit.hard,
    });
  }
  if (process.oomScoreAdj !== undefined) {
    steps.push({ directive: 'oom_score_adj', value: process.oomScoreAdj });
  }

  // 0022 when the spec sets none, as runc does (libcontainer/rootfs_linux.go).
  steps.push({ directive: 'umask', mask: process.user.umask ?? 0o022 });
  steps.push({
    directive: 'user',
    uid: process.user.uid,
    gid: process.user.gid,
    additionalGids: process.user.additionalGids ?? [],
  });
  // Without process.capabilities every set is empty, as in runc (finalizeNamespace
  // in libcontainer/init_linux.go uses an empty Capabilities then).
  steps.push(capsStep(process.capabilities ?? {}));
  if (process.noNewPrivileges) steps.push({ directive: 'no_new_privs' });

  if (preserveFds > 0) steps.push({ directive: 'preserve_fds', count: preserveFds });
  steps.push({ directive: 'cwd', path: process.cwd });
  for (const entry of process.env ?? []) steps.push({ directive: 'env', entry });
  for (const value of process.args) steps.push({ directive: 'arg', value });
  return steps;
}

function capsStep(caps: NonNullable<Process['capabilities']>): CapsStep {
  const permitted = new Set(caps.permitted ?? []);
  const inheritable = new Set(caps.inheritable ?? []);
  const requested = caps.ambient ?? [];
  const raised = requested.filter((name) => permitted.has(name) && inheritable.has(name));
  return {
    directive: 'caps',
    bounding: capabilityMask(caps.bounding ?? []),
    effective: capabilityMask(caps.effective ?? []),
    permitted: capabilityMask(caps.permitted ?? []),
    inheritable: capabilityMask(caps.inheritable ?? []),
    ambient: capabilityMask(raised),
    ambientNotRaised: requested.filter((name) => !raised.includes(name) && name in CAPABILITIES),
  };
}
