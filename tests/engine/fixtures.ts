// Fixtures for the engine tests on this machine: an engine with its own state
// root per worker, bundles on a busybox root filesystem with the workloads
// bound in, and a capped parent cgroup for control runs. Everything a test
// makes is torn down after it, also when it fails.
import { test as base, expect } from '@playwright/test';
import { appendFileSync, mkdirSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Engine } from '../../engine/index.js';
import { defaultSpec } from '../../engine/spec/generate.js';
import { makeBusyboxRootfs } from '../../engine/spec/rootfs.js';
import { openCgroup } from '../../engine/cgroup/index.js';
import type { Cgroup } from '../../engine/cgroup/types.js';
import type { LinuxResources, NamespaceType, Spec } from '../../engine/spec/oci.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
export const workloadsDir = path.join(repoRoot, 'scenarios/workloads/build');
export const cliPath = path.join(repoRoot, 'bin/isolab');

/** Options for a test bundle; the spec callback may change anything. */
export interface BundleOptions {
  args: string[];
  namespaces?: NamespaceType[];
  userns?: boolean;
  hostname?: string;
  resources?: LinuxResources;
  cgroupsPath?: string;
  edit?: (spec: Spec) => void;
}

export interface EngineFixtures {
  engine: Engine;
  workDir: string;
  makeBundle: (options: BundleOptions) => Promise<string>;
  /** Makes a parent cgroup with limits that plays the machine in control runs. */
  cappedParent: (resources: LinuxResources) => Promise<string>;
  uniqueId: (prefix: string) => string;
}

interface WorkerFixtures {
  rootfs: string;
}

export const test = base.extend<EngineFixtures, WorkerFixtures>({
  rootfs: [async ({}, use) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'isolab-rootfs-'));
    // mkdtemp makes 0700; container root in a user namespace is an
    // unprivileged host uid and must be able to reach the tree.
    await fs.chmod(dir, 0o755);
    await makeBusyboxRootfs(dir);
    // Copied, not bound: a bind source must be reachable by container root,
    // which in a user namespace is an unprivileged host uid.
    await fs.cp(workloadsDir, path.join(dir, 'w'), { recursive: true });
    await use(dir);
    await fs.rm(dir, { recursive: true, force: true });
  }, { scope: 'worker' }],

  workDir: async ({}, use) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'isolab-test-'));
    await fs.chmod(dir, 0o755);
    await use(dir);
    await closeOutputs();
    await fs.rm(dir, { recursive: true, force: true });
  },

  engine: async ({ workDir }, use) => {
    const engine = new Engine(path.join('/run', `isolab-test-${path.basename(workDir)}`));
    await recordTestRoot(engine.store.root);
    await use(engine);
    for (const state of await engine.list()) await engine.delete(state.id, true);
    await engine.gc();
    await fs.rm(engine.store.root, { recursive: true, force: true });
  },

  uniqueId: async ({}, use) => {
    await use((prefix) => {
      const id = `${prefix}-${randomBytes(4).toString('hex')}`;
      recordTestId(id);
      return id;
    });
  },

  makeBundle: async ({ workDir, rootfs }, use) => {
    let n = 0;
    await use(async (options) => {
      const dir = path.join(workDir, `bundle-${n++}`);
      await fs.mkdir(dir);
      await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify(bundleSpec(rootfs, options), null, 2));
      return dir;
    });
  },

  // Depends on engine so that its containers are deleted before the parent is.
  cappedParent: async ({ engine }, use) => {
    const made: Cgroup[] = [];
    await use(async (resources) => {
      const name = `${TEST_CAP_PREFIX}${randomBytes(4).toString('hex')}`;
      const cgroup = await openCgroup(name);
      await cgroup.create();
      made.push(cgroup);
      await cgroup.apply(resources);
      return name;
    });
    // This teardown runs before the engine's, so it deletes the containers
    // inside the parent first.
    for (const state of await engine.list()) await engine.delete(state.id, true);
    for (const cgroup of made) {
      await cgroup.killAll(5000);
      await cgroup.destroy();
    }
  },
});

/** Prefix of the capped parent cgroups the tests make. */
export const TEST_CAP_PREFIX = 'isolab-test-cap-';

/** The file listing every state root this test run used, for the leak check. */
export const TEST_ROOTS_FILE = path.join(repoRoot, 'test-results', 'isolab-test-roots.txt');

/** The file listing every container id this test run made, so the leak check can name their veths. */
export const TEST_IDS_FILE = path.join(repoRoot, 'test-results', 'isolab-test-ids.txt');

function recordTestId(id: string): void {
  mkdirSync(path.dirname(TEST_IDS_FILE), { recursive: true });
  appendFileSync(TEST_IDS_FILE, `${id}\n`);
}

async function recordTestRoot(root: string): Promise<void> {
  await fs.mkdir(path.dirname(TEST_ROOTS_FILE), { recursive: true });
  await fs.appendFile(TEST_ROOTS_FILE, `${root}\n`);
}

function bundleSpec(rootfs: string, options: BundleOptions): Spec {
  const spec = defaultSpec({ rootfs, userns: options.userns });
  spec.process!.args = options.args;
  spec.process!.env = ['PATH=/w:/bin:/sbin:/usr/bin', 'HOME=/root'];
  spec.root = { path: rootfs, readonly: true };
  if (options.namespaces) {
    spec.linux!.namespaces = [...new Set(options.namespaces)].map((type) => ({ type }));
    if (options.userns && !options.namespaces.includes('user')) spec.linux!.namespaces.push({ type: 'user' });
  }
  const types = new Set(spec.linux!.namespaces!.map((ns) => ns.type));
  if (!types.has('uts')) delete spec.hostname;
  else if (options.hostname) spec.hostname = options.hostname;
  if (!types.has('mount')) {
    // Without a mount namespace the engine sets up no root filesystem, so the
    // process sees the host's root and the workloads under their host path.
    spec.mounts = [];
    spec.root = { path: '/' };
    spec.linux!.maskedPaths = [];
    spec.linux!.readonlyPaths = [];
    spec.process!.env = [`PATH=${workloadsDir}:/bin:/usr/bin`];
  }
  if (!types.has('network')) spec.mounts = spec.mounts?.filter((m) => m.type !== 'sysfs');
  if (options.resources) spec.linux!.resources = options.resources;
  if (options.cgroupsPath) spec.linux!.cgroupsPath = options.cgroupsPath;
  options.edit?.(spec);
  return spec;
}

/** Reads a file the container wrote its stdout to. */
export async function readOutput(file: string): Promise<string> {
  return fs.readFile(file, 'utf8');
}

// Handles stay referenced until the test's workDir is torn down: a
// FileHandle that is garbage collected closes its fd, which a container
// about to start may still need.
const openHandles = new Set<fs.FileHandle>();

/** Opens a file for a container's stdout and stderr; returns the fd and path. */
export async function outputFile(workDir: string, name: string): Promise<{ fd: number; file: string }> {
  const file = path.join(workDir, `${name}.out`);
  const handle = await fs.open(file, 'w');
  openHandles.add(handle);
  return { fd: handle.fd, file };
}

async function closeOutputs(): Promise<void> {
  for (const handle of openHandles) await handle.close();
  openHandles.clear();
}

/** Polls fn until it returns a value other than undefined, or fails after timeoutMs. */
export async function pollFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export { expect };
