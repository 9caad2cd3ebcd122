// Bundles and containers for scenario phases: a config.json from the
// engine's default spec with the fields scenarios vary, and a
// create-and-start wrapper. Workloads run by exec are in workload.ts.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { defaultSpec } from '../../engine/spec/generate.js';
import type { LinuxResources, Mount, NamespaceType, Spec } from '../../engine/spec/oci.js';
import type { RunOptions } from '../../engine/container/run.js';
import type { ScenarioContext } from './types.js';

/** Fields in which a scenario container differs from `runc spec`'s default. */
export interface BundleOptions {
  /** Root filesystem directory; the busybox tree with the workloads in /w. */
  rootfs: string;
  /** process.args; the default keeps init asleep so that workloads run by exec. */
  args?: string[];
  resources?: LinuxResources;
  /** linux.cgroupsPath, relative to each hierarchy's root. */
  cgroupsPath?: string;
  /**
   * linux.namespaces by type; the default is the default spec's set (pid,
   * network, ipc, uts, mount, cgroup). Types listed in `joinPaths` get a path.
   */
  namespaces?: NamespaceType[];
  /** Existing namespaces to join, by type, such as another container's /proc/PID/ns/net. */
  joinPaths?: Partial<Record<NamespaceType, string>>;
  annotations?: Record<string, string>;
  /** Capabilities added to the bounding, effective and permitted sets. */
  extraCaps?: string[];
  /** Extra mounts, appended after the default ones. */
  mounts?: Mount[];
  /** Extra environment variables as NAME=value; PATH already includes /w. */
  env?: string[];
  /** Host directories bound read-write into the container, as destination -> source. */
  writableBinds?: Record<string, string>;
  /** process.oomScoreAdj (default 0, not the harness's -1000). */
  oomScoreAdj?: number;
  /** linux.sysctl, such as net.ipv4.ip_unprivileged_port_start. */
  sysctl?: Record<string, string>;
  /** linux.readonlyPaths in place of the default list (which has /proc/sys). */
  readonlyPaths?: string[];
}

/** process.args of a container whose workloads run by exec: sleeps for an hour. */
export const IDLE_ARGS = ['sleep', '3600'];

const PATH = 'PATH=/w:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Builds the spec of a scenario container. */
export function buildSpec(options: BundleOptions): Spec {
  const spec = defaultSpec({ rootfs: options.rootfs });
  const proc = spec.process!;
  proc.args = options.args ?? IDLE_ARGS;
  proc.env = [PATH, 'TERM=xterm', ...(options.env ?? [])];
  // Set always: otherwise the process inherits the harness's -1000 through the
  // engine's helper, and the OOM killer could never pick it.
  proc.oomScoreAdj = options.oomScoreAdj ?? 0;
  if (options.extraCaps?.length) {
    const caps = proc.capabilities!;
    for (const set of ['bounding', 'effective', 'permitted'] as const) {
      caps[set] = [...new Set([...(caps[set] ?? []), ...options.extraCaps])];
    }
  }

  const linux = spec.linux!;
  linux.resources = { ...linux.resources, ...options.resources };
  if (options.cgroupsPath) linux.cgroupsPath = options.cgroupsPath;
  if (options.sysctl) linux.sysctl = { ...options.sysctl };
  if (options.readonlyPaths) linux.readonlyPaths = [...options.readonlyPaths];
  const types = options.namespaces ?? linux.namespaces!.map((ns) => ns.type);
  linux.namespaces = types.map((type) => {
    const joined = options.joinPaths?.[type];
    return joined ? { type, path: joined } : { type };
  });
  // Without a uts namespace the spec may not set a hostname.
  if (!types.includes('uts')) delete spec.hostname;

  for (const [destination, source] of Object.entries(options.writableBinds ?? {})) {
    spec.mounts!.push({ destination, type: 'bind', source, options: ['rbind', 'rw'] });
  }
  spec.mounts!.push(...(options.mounts ?? []));
  if (options.annotations) spec.annotations = { ...options.annotations };
  return spec;
}

/** Writes DIR/config.json for the options and returns DIR. */
export async function writeBundle(dir: string, options: BundleOptions): Promise<string> {
  return writeSpec(dir, buildSpec(options));
}

/** Writes DIR/config.json from a spec that a scenario built and edited, and returns DIR. */
export async function writeSpec(dir: string, spec: Spec): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'config.json'), `${JSON.stringify(spec, null, 2)}\n`);
  return dir;
}

/** Returns the bundle directory of container `id` in the phase's work directory. */
export function bundleDir(ctx: ScenarioContext, id: string): string {
  return path.join(ctx.workDir, 'bundles', id);
}

/**
 * Runs container `id` from `bundle` to its end with stdout and stderr in
 * WORKDIR/ID.out, and returns that output.
 */
export async function runForOutput(
  ctx: ScenarioContext,
  id: string,
  bundle: string,
  options: Omit<RunOptions, 'stdio'> = {},
): Promise<string> {
  const outFile = path.join(ctx.workDir, `${id}.out`);
  const out = await fs.open(outFile, 'w');
  try {
    await ctx.engine.run(id, bundle, { ...options, stdio: ['ignore', out.fd, out.fd] });
  } finally {
    await out.close();
  }
  return fs.readFile(outFile, 'utf8');
}

/** Returns the cgroup path of a container under the phase's capped parent. */
export function cappedPath(ctx: ScenarioContext, id: string): string {
  return `${ctx.capParent}/${id}`;
}

/** Bundle options plus the placement of the container's cgroup. */
export interface LaunchOptions extends Omit<BundleOptions, 'rootfs'> {
  /** false puts the cgroup under the engine's default parent instead of ctx.capParent. */
  capped?: boolean;
}

/**
 * Creates and starts container `${ctx.prefix}-${name}` from a bundle in the
 * phase's work directory and returns its id. Its cgroup is under the capped
 * parent unless `capped` is false or `cgroupsPath` is given. The compiled
 * workloads are bound read-only over /w, because the rootfs copy is made
 * once per work directory and may predate workloads added since.
 */
export async function launch(ctx: ScenarioContext, name: string, options: LaunchOptions = {}):
  Promise<string> {
  const id = `${ctx.prefix}-${name}`;
  const { capped = true, ...rest } = options;
  const cgroupsPath = rest.cgroupsPath ?? (capped ? cappedPath(ctx, id) : undefined);
  const workloads: Mount = {
    destination: '/w', type: 'bind', source: ctx.workloadsDir, options: ['rbind', 'ro'],
  };
  const dir = await writeBundle(bundleDir(ctx, id), {
    ...rest,
    rootfs: ctx.rootfs,
    cgroupsPath,
    mounts: [workloads, ...(rest.mounts ?? [])],
  });
  await ctx.engine.create(id, dir);
  try {
    await ctx.engine.start(id);
  } catch (err) {
    await ctx.engine.delete(id, true).catch(() => undefined);
    throw err;
  }
  return id;
}

/** Parses the last line of a workload's output that is a JSON object; undefined if none. */
export function lastJsonLine<T = Record<string, unknown>>(stdout: string): T | undefined {
  const lines = stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return JSON.parse(lines[i]) as T;
    } catch {
      // A line cut short by a kill; try the one before.
    }
  }
  return undefined;
}
