// The kernel cache: <cache>/kernels/<name>/<package version>/ holds the kernel,
// its config, its modules (with modules.dep) and kernel.json.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { IsolabError } from '../../engine/errors.js';
import { withLock } from '../lock.js';
import { downloadPackage, resolveKernelPackage, systemMirror, updateSuite } from './apt.js';
import { KERNELS, type KernelRequest, type KernelSpec } from './catalog.js';
import { extractVmlinux } from './vmlinux.js';

/** A fetched kernel, as kernel.json records it. */
export interface KernelBuild {
  name: string;
  suite: string;
  packageName: string;
  packageVersion: string;
  /** `uname -r` of this kernel. */
  release: string;
  fetchedAt: string;
  dir: string;
  /** The bzImage as Debian ships it. */
  vmlinuz: string;
  /** The uncompressed ELF kernel for PVH boot, when it could be extracted. */
  vmlinux?: string;
  config: string;
  /** lib/modules/<release> under dir, with modules.dep from depmod. */
  modulesDir: string;
}

function kernelsDir(cacheDir: string, name: string): string {
  return path.join(cacheDir, 'kernels', name);
}

/** Lists the cached builds of one kernel name, newest fetch first. */
export async function cachedKernels(cacheDir: string, name: string): Promise<KernelBuild[]> {
  const dir = kernelsDir(cacheDir, name);
  const builds: KernelBuild[] = [];
  for (const version of await fs.readdir(dir).catch(() => [] as string[])) {
    if (version.startsWith('.')) continue;
    const text = await fs.readFile(path.join(dir, version, 'kernel.json'), 'utf8').catch(() => '');
    if (text) builds.push(JSON.parse(text) as KernelBuild);
  }
  return builds.sort((a, b) => b.fetchedAt.localeCompare(a.fetchedAt));
}

/** Lists every known kernel name with its cached builds. */
export async function listKernels(cacheDir: string): Promise<{ spec: KernelSpec; builds: KernelBuild[] }[]> {
  return Promise.all(KERNELS.map(async (spec) => ({ spec, builds: await cachedKernels(cacheDir, spec.name) })));
}

/**
 * Returns a cached build for the request: the exact version when one is named,
 * else the newest fetched, fetching the suite's current kernel if none is cached.
 */
export async function ensureKernel(cacheDir: string, request: KernelRequest): Promise<KernelBuild> {
  const builds = await cachedKernels(cacheDir, request.spec.name);
  if (request.version !== undefined) {
    const build = builds.find((candidate) => candidate.packageVersion === request.version);
    if (build) return build;
    const cached = builds.map((candidate) => candidate.packageVersion).join(', ') || 'none';
    throw new IsolabError({
      kind: 'not-found',
      op: 'find cached kernel',
      value: `${request.spec.name}@${request.version}`,
      reason: `cached versions: ${cached}; \`isolab kernels fetch ${request.spec.name}\` fetches the current one`,
    });
  }
  return builds[0] ?? fetchKernel(cacheDir, request.spec);
}

/** Resolves the suite's current kernel package and caches it unless it already is. */
export async function fetchKernel(cacheDir: string, spec: KernelSpec): Promise<KernelBuild> {
  const lock = path.join(cacheDir, 'locks', `kernel-${spec.name}`);
  return withLock(lock, 20 * 60_000, async () => {
    const aptDir = path.join(cacheDir, 'apt', spec.suite);
    await updateSuite(aptDir, spec.suite, await systemMirror());
    const pkg = await resolveKernelPackage(aptDir, spec.suite);
    const existing = (await cachedKernels(cacheDir, spec.name)).find((build) => build.packageVersion === pkg.version);
    if (existing) return existing;

    const finalDir = path.join(kernelsDir(cacheDir, spec.name), pkg.version);
    const workDir = `${finalDir}.partial`;
    await fs.rm(workDir, { recursive: true, force: true });
    try {
      const deb = await downloadPackage(aptDir, pkg, path.join(workDir, 'download'));
      const build = await unpackKernel(deb, workDir, spec, pkg);
      await fs.rm(path.join(workDir, 'download'), { recursive: true, force: true });
      await fs.writeFile(path.join(workDir, 'kernel.json'), `${JSON.stringify(relocate(build, workDir, finalDir), null, 2)}\n`);
      await fs.rename(workDir, finalDir);
      return relocate(build, workDir, finalDir);
    } finally {
      await fs.rm(workDir, { recursive: true, force: true });
    }
  });
}

function relocate(build: KernelBuild, from: string, to: string): KernelBuild {
  const move = (file: string): string => path.join(to, path.relative(from, file));
  return {
    ...build,
    dir: to,
    vmlinuz: move(build.vmlinuz),
    vmlinux: build.vmlinux ? move(build.vmlinux) : undefined,
    config: move(build.config),
    modulesDir: move(build.modulesDir),
  };
}

/** Unpacks a kernel .deb into dir: vmlinuz, vmlinux, config and lib/modules/<release>. */
async function unpackKernel(
  deb: string,
  dir: string,
  spec: KernelSpec,
  pkg: { name: string; version: string },
): Promise<KernelBuild> {
  const extract = path.join(dir, 'download', 'tree');
  await execa('dpkg-deb', ['-x', deb, extract]);
  const bootFiles = await fs.readdir(path.join(extract, 'boot'));
  const image = bootFiles.find((name) => name.startsWith('vmlinuz-'));
  if (!image) throw new IsolabError({ kind: 'not-found', op: 'find the kernel image in', value: deb });
  const release = image.slice('vmlinuz-'.length);

  await fs.rename(path.join(extract, 'boot', image), path.join(dir, 'vmlinuz'));
  await fs.rename(path.join(extract, 'boot', `config-${release}`), path.join(dir, 'config'));
  // trixie keeps modules under /usr/lib/modules, older releases under /lib/modules.
  const modulesFrom = await firstExisting([
    path.join(extract, 'usr/lib/modules', release),
    path.join(extract, 'lib/modules', release),
  ]);
  const modulesDir = path.join(dir, 'lib/modules', release);
  await fs.mkdir(path.dirname(modulesDir), { recursive: true });
  await fs.rename(modulesFrom, modulesDir);
  await execa('depmod', ['-b', dir, release]);

  const vmlinux = path.join(dir, 'vmlinux');
  const config = await fs.readFile(path.join(dir, 'config'), 'utf8');
  const hasPvh = /^CONFIG_PVH=y$/m.test(config);
  const extracted = hasPvh && (await extractVmlinux(path.join(dir, 'vmlinuz'), vmlinux));
  return {
    name: spec.name,
    suite: spec.suite,
    packageName: pkg.name,
    packageVersion: pkg.version,
    release,
    fetchedAt: new Date().toISOString(),
    dir,
    vmlinuz: path.join(dir, 'vmlinuz'),
    vmlinux: extracted ? vmlinux : undefined,
    config: path.join(dir, 'config'),
    modulesDir,
  };
}

async function firstExisting(candidates: string[]): Promise<string> {
  for (const candidate of candidates) {
    if (await fs.stat(candidate).then(() => true, () => false)) return candidate;
  }
  throw new IsolabError({ kind: 'not-found', op: 'find kernel modules in', value: candidates.join(' or ') });
}
