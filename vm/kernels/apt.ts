// Debian kernel packages through apt with a private sources list, lists and
// archives directory per suite, so the system's apt configuration is never changed.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { IsolabError } from '../../engine/errors.js';

const DEFAULT_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

export interface Mirror {
  /** The Debian archive's URI, as the system's sources list names it. */
  archive: string;
  /** The security archive's URI, when the system lists one. */
  security?: string;
  keyring: string;
}

interface SourceEntry {
  uris: string[];
  suites: string[];
  signedBy?: string;
}

/** Finds the Debian mirror the system's apt already uses, from /etc/apt/sources.list*. */
export async function systemMirror(etcApt = '/etc/apt'): Promise<Mirror> {
  const entries: SourceEntry[] = [];
  const files = [path.join(etcApt, 'sources.list')];
  const partsDir = path.join(etcApt, 'sources.list.d');
  for (const name of await fs.readdir(partsDir).catch(() => [] as string[])) {
    if (name.endsWith('.list') || name.endsWith('.sources')) files.push(path.join(partsDir, name));
  }
  for (const file of files) {
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    entries.push(...(file.endsWith('.sources') ? parseDeb822(text) : parseOneLine(text)));
  }
  const security = entries.find((entry) => entry.suites.some((suite) => suite.endsWith('-security')));
  const archive = entries.find((entry) =>
    entry.suites.some((suite) => /^[a-z]+(-updates)?$/.test(suite)) && isDebianUri(entry.uris[0]));
  if (!archive) {
    throw new IsolabError({
      kind: 'not-found',
      op: 'find the Debian mirror in',
      value: etcApt,
      reason: 'no sources entry names a Debian suite; add the Debian archive to the system sources list',
    });
  }
  return {
    archive: archive.uris[0],
    security: security?.uris[0],
    keyring: archive.signedBy ?? DEFAULT_KEYRING,
  };
}

function isDebianUri(uri: string | undefined): boolean {
  return uri !== undefined && /\/debian\/?$/.test(uri);
}

function parseDeb822(text: string): SourceEntry[] {
  const entries: SourceEntry[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (match) fields.set(match[1].toLowerCase(), match[2].trim());
    }
    const types = fields.get('types') ?? '';
    if (!types.split(/\s+/).includes('deb') || fields.get('enabled') === 'no') continue;
    entries.push({
      uris: (fields.get('uris') ?? '').split(/\s+/).filter(Boolean),
      suites: (fields.get('suites') ?? '').split(/\s+/).filter(Boolean),
      signedBy: fields.get('signed-by') || undefined,
    });
  }
  return entries;
}

function parseOneLine(text: string): SourceEntry[] {
  const entries: SourceEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const match = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (!match) continue;
    const signedBy = /signed-by=(\S+)/.exec(match[1] ?? '')?.[1];
    entries.push({ uris: [match[2]], suites: [match[3]], signedBy });
  }
  return entries;
}

/** apt's options that point every directory at the suite's private one. */
export function aptOptions(aptDir: string): string[] {
  const settings: Record<string, string> = {
    'Dir::Etc::SourceList': path.join(aptDir, 'sources.list'),
    'Dir::Etc::SourceParts': path.join(aptDir, 'sources.list.d'),
    'Dir::State::Lists': path.join(aptDir, 'lists'),
    'Dir::State::status': path.join(aptDir, 'status'),
    'Dir::Cache': path.join(aptDir, 'cache'),
    'Dir::Cache::archives': path.join(aptDir, 'archives'),
    // The downloads land in a root-owned cache that the _apt user cannot write.
    'APT::Sandbox::User': 'root',
  };
  return Object.entries(settings).flatMap(([key, value]) => ['-o', `${key}=${value}`]);
}

/** Writes the private apt tree for a suite and refreshes its package lists. */
export async function updateSuite(aptDir: string, suite: string, mirror: Mirror): Promise<void> {
  for (const dir of ['sources.list.d', 'lists/partial', 'archives/partial', 'cache']) {
    await fs.mkdir(path.join(aptDir, dir), { recursive: true });
  }
  const options = `[signed-by=${mirror.keyring}]`;
  const lines = [`deb ${options} ${mirror.archive} ${suite} main`];
  if (mirror.security) lines.push(`deb ${options} ${mirror.security} ${suite}-security main`);
  await fs.writeFile(path.join(aptDir, 'sources.list'), `${lines.join('\n')}\n`);
  await fs.writeFile(path.join(aptDir, 'status'), '');
  await runApt('apt-get', [...aptOptions(aptDir), '-q', 'update'], `update package lists of ${suite}`);
}

/** The kernel package that the suite's linux-image-amd64 depends on, with its version. */
export async function resolveKernelPackage(
  aptDir: string,
  suite: string,
): Promise<{ name: string; version: string }> {
  const args = [...aptOptions(aptDir), 'show', '--no-all-versions', 'linux-image-amd64'];
  const output = await runApt('apt-cache', args, `resolve the kernel package of ${suite}`);
  const depends = /^Depends: (linux-image-[^\s,]+) \(= ([^)]+)\)/m.exec(output);
  if (!depends) {
    throw new IsolabError({
      kind: 'not-found',
      op: 'resolve the kernel package of suite',
      value: suite,
      reason: 'linux-image-amd64 names no linux-image package in its Depends field',
    });
  }
  return { name: depends[1], version: depends[2] };
}

/** Downloads one .deb into a directory without installing it; returns its path. */
export async function downloadPackage(
  aptDir: string,
  pkg: { name: string; version: string },
  into: string,
): Promise<string> {
  await fs.mkdir(into, { recursive: true });
  const spec = `${pkg.name}=${pkg.version}`;
  await runApt('apt-get', [...aptOptions(aptDir), '-q', 'download', spec], `download ${spec}`, into);
  const debs = (await fs.readdir(into)).filter((name) => name.endsWith('.deb'));
  if (debs.length !== 1) {
    throw new IsolabError({ kind: 'system', op: 'download package', value: spec, reason: `found ${debs.length} .deb files` });
  }
  return path.join(into, debs[0]);
}

async function runApt(tool: string, args: string[], action: string, cwd?: string): Promise<string> {
  const result = await execa(tool, args, { cwd, reject: false, stdin: 'ignore', timeout: 15 * 60_000 });
  if (result.failed) {
    const missing = (result as { code?: string }).code === 'ENOENT';
    throw new IsolabError({
      kind: missing ? 'missing-tool' : 'system',
      op: action.split(' ')[0],
      value: action.slice(action.indexOf(' ') + 1),
      reason: missing ? `${tool} is missing; this needs Debian's apt` : lastLines(String(result.stderr || result.message)),
    });
  }
  return result.stdout;
}

function lastLines(text: string, count = 5): string {
  return text.trim().split('\n').slice(-count).join('\n');
}
