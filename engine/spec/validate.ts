// Reads and validates an OCI runtime bundle's config.json. Every object is
// checked for unknown keys; fields that the OCI spec defines but isolab does not
// implement are rejected by name, never ignored.

import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { IsolabError, fromSystemError } from '../errors.js';
import {
  expectAbsolutePath,
  expectArray,
  expectBoolean,
  expectNonEmptyString,
  expectObject,
  expectString,
  expectStringArray,
  expectStringMap,
  fieldError,
  joinPath,
  optional,
} from './check.js';
import { jsonErrorPosition } from './jsonpos.js';
import { checkCrossFields } from './crosscheck.js';
import { validateLinux } from './linux.js';
import { parseMountOptions } from './mountopts.js';
import type { Mount, Process, Spec } from './oci.js';
import { validateProcess } from './process.js';

/** Values of the `isolab.rootfs` annotation. */
export const ROOTFS_MODES = ['bind', 'overlay'] as const;

const ISOLAB_ANNOTATIONS = ['isolab.rootfs', 'isolab.network', 'isolab.ip', 'isolab.publish'];

// sethostname(2) and setdomainname(2) take at most __NEW_UTS_LEN (64) bytes.
const UTS_NAME_MAX = 64;

/** Reads and validates `<bundleDir>/config.json`. */
export function loadBundle(bundleDir: string): Spec {
  const configPath = path.join(bundleDir, 'config.json');
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (err) {
    throw fromSystemError('read bundle config', configPath, err);
  }
  return parseSpec(text, bundleDir);
}

/**
 * Parses and validates config.json text. Returns the spec with `root.path` and
 * relative bind mount sources made absolute against `bundleDir`.
 */
export function parseSpec(text: string, bundleDir: string): Spec {
  const value = parseJson(text, 'config.json');
  const absoluteBundle = path.resolve(bundleDir);

  const object = expectObject(value, '', {
    known: [
      'ociVersion', 'process', 'root', 'hostname', 'domainname', 'mounts', 'annotations', 'linux',
    ],
    unsupported: ['hooks', 'solaris', 'windows', 'vm', 'zos'],
    required: ['ociVersion', 'process', 'root'],
  });

  checkOciVersion(object.ociVersion);
  validateProcess(object.process, 'process');
  optional(object, 'annotations', '', checkAnnotations);
  const root = checkRoot(object.root, absoluteBundle);
  optional(object, 'hostname', '', checkUtsName);
  optional(object, 'domainname', '', checkUtsName);
  const mounts = optional(object, 'mounts', '', (v, p) => checkMounts(v, p, absoluteBundle));
  optional(object, 'linux', '', validateLinux);

  const spec = { ...object, root, ...(mounts && { mounts }) } as unknown as Spec;
  checkCrossFields(spec);
  return spec;
}

/** Parses and validates an exec's process.json text. */
export function parseProcess(text: string): Process {
  return validateProcess(parseJson(text, 'process.json'), 'process');
}

/** Parses JSON, naming the file, line, column and position of a syntax error. */
export function parseJson(text: string, fileName: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    const where = jsonErrorPosition(text, err);
    const found = text[where.position];
    const near = found === undefined ? 'at end of input' : `near ${JSON.stringify(found)}`;
    throw new IsolabError({
      kind: 'invalid-input',
      op: 'parse',
      value: fileName,
      reason:
        `invalid JSON at line ${where.line}, column ${where.column} ` +
        `(position ${where.position}), ${near}`,
      cause: err,
    });
  }
}

function checkOciVersion(value: unknown): void {
  const version = expectString(value, 'ociVersion');
  if (!/^1\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(version)) {
    throw fieldError('ociVersion', version, 'must be a 1.x.y version of the OCI runtime spec');
  }
}

function checkAnnotations(value: unknown, field: string): Record<string, string> {
  const annotations = expectStringMap(value, field);
  for (const [key, annotation] of Object.entries(annotations)) {
    if (!key.startsWith('isolab.')) continue;
    const keyPath = joinPath(field, key);
    if (!ISOLAB_ANNOTATIONS.includes(key)) {
      const known = ISOLAB_ANNOTATIONS.join(', ');
      throw fieldError(keyPath, annotation, `unknown isolab annotation (known: ${known})`);
    }
    if (key === 'isolab.rootfs' && !(ROOTFS_MODES as readonly string[]).includes(annotation)) {
      throw fieldError(keyPath, annotation, `must be one of ${ROOTFS_MODES.join(', ')}`);
    }
  }
  return annotations;
}

function checkRoot(value: unknown, bundleDir: string): Spec['root'] {
  const root = expectObject(value, 'root', { known: ['path', 'readonly'], required: ['path'] });
  const rootPath = path.resolve(bundleDir, expectNonEmptyString(root.path, 'root.path'));
  optional(root, 'readonly', 'root', expectBoolean);

  let isDirectory = false;
  try {
    isDirectory = statSync(rootPath).isDirectory();
  } catch {
    throw fieldError('root.path', rootPath, 'does not exist');
  }
  if (!isDirectory) throw fieldError('root.path', rootPath, 'is not a directory');
  return { ...root, path: rootPath } as Spec['root'];
}

function checkUtsName(value: unknown, field: string): void {
  const name = expectString(value, field);
  if (Buffer.byteLength(name) > UTS_NAME_MAX) {
    throw fieldError(field, name, `must be at most ${UTS_NAME_MAX} bytes`);
  }
}

function checkMounts(value: unknown, field: string, bundleDir: string): Mount[] {
  const items = expectArray(value, field);
  return items.map((item, i) => checkMount(item, joinPath(field, i), bundleDir));
}

function checkMount(value: unknown, field: string, bundleDir: string): Mount {
  const mount = expectObject(value, field, {
    known: ['destination', 'source', 'type', 'options'],
    unsupported: ['uidMappings', 'gidMappings'],
    required: ['destination'],
  });
  const destination = path.posix.normalize(
    expectAbsolutePath(mount.destination, joinPath(field, 'destination')),
  );
  if (destination === '/') {
    throw fieldError(joinPath(field, 'destination'), destination, 'must not be the root');
  }

  const type = optional(mount, 'type', field, expectString) ?? '';
  let source = optional(mount, 'source', field, expectString);
  const options = optional(mount, 'options', field, expectStringArray) ?? [];
  const parsed = parseMountOptions(options, joinPath(field, 'options'));

  if (parsed.bind || type === 'bind') {
    const sourceField = joinPath(field, 'source');
    if (source === undefined || source === '') {
      throw fieldError(sourceField, source, 'a bind mount needs a source path');
    }
    source = path.resolve(bundleDir, source);
    if (!existsSync(source)) throw fieldError(sourceField, source, 'does not exist');
  } else if (type === '' || type === 'none') {
    throw fieldError(joinPath(field, 'type'), mount.type, 'must name a filesystem type');
  }

  return { ...mount, destination, ...(source !== undefined && { source }) } as Mount;
}
