// Kernel module dependencies from modules.dep, for the modules the initramfs carries.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { IsolabError } from '../../engine/errors.js';

/** A module file to load, in an order where each comes after its dependencies. */
export interface ModuleFile {
  name: string;
  /** Path relative to lib/modules/<release>, as modules.dep writes it. */
  relativePath: string;
  /** Names of every module it needs, as modules.dep lists them. */
  deps: string[];
}

/** Module names compare with - and _ as the same character, as the kernel does. */
export function moduleName(file: string): string {
  return path.basename(file).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

/**
 * Returns the modules to load for the wanted names, dependencies first. Names
 * built into the kernel (modules.builtin) are skipped; an unknown name fails.
 */
export async function resolveModules(modulesDir: string, wanted: readonly string[]): Promise<ModuleFile[]> {
  const dep = await fs.readFile(path.join(modulesDir, 'modules.dep'), 'utf8');
  const builtin = await fs.readFile(path.join(modulesDir, 'modules.builtin'), 'utf8').catch(() => '');
  const builtinNames = new Set(builtin.split('\n').filter(Boolean).map(moduleName));
  const graph = new Map<string, { relativePath: string; deps: string[] }>();
  for (const line of dep.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const relativePath = line.slice(0, colon);
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean).map(moduleName);
    graph.set(moduleName(relativePath), { relativePath, deps });
  }

  const ordered: ModuleFile[] = [];
  const visited = new Set<string>();
  const visit = (name: string): void => {
    if (visited.has(name)) return;
    visited.add(name);
    const node = graph.get(name);
    if (!node) {
      if (builtinNames.has(name)) return;
      throw new IsolabError({ kind: 'not-found', op: 'find kernel module', value: name, reason: `not in ${modulesDir}` });
    }
    for (const dep of node.deps) visit(dep);
    ordered.push({ name, relativePath: node.relativePath, deps: node.deps });
  };
  for (const name of wanted) visit(name.replace(/-/g, '_'));
  return ordered;
}

/** Reads a module file, decompressing .ko.xz, .ko.zst and .ko.gz with the host's tools. */
export async function readModule(modulesDir: string, relativePath: string): Promise<Buffer> {
  const file = path.join(modulesDir, relativePath);
  const tool = relativePath.endsWith('.xz') ? 'xz' : relativePath.endsWith('.zst') ? 'zstd' : relativePath.endsWith('.gz') ? 'gzip' : '';
  if (!tool) return fs.readFile(file);
  const result = await execa(tool, ['-dc', file], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 });
  return Buffer.from(result.stdout as Uint8Array);
}
