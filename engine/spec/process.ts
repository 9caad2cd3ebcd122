// Checks for an OCI `process` object, from config.json or from an exec's process.json.

import { CAPABILITY_SETS, RLIM_INFINITY_JSON, isCapability, isRlimit } from './caps.js';
import {
  UINT32_MAX,
  expectAbsolutePath,
  expectArray,
  expectBoolean,
  expectInteger,
  expectObject,
  expectString,
  expectStringArray,
  fieldError,
  joinPath,
  optional,
  unsupportedField,
  type JsonObject,
} from './check.js';
import type { Capabilities, Process } from './oci.js';

// uid_t is 32 bits, and (uid_t)-1 means "unchanged" to setresuid, so it is not an id.
const ID_RANGE = { min: 0, max: UINT32_MAX - 1 };

/** Validates a `process` object and returns it typed. */
export function validateProcess(value: unknown, path: string): Process {
  const object = expectObject(value, path, {
    known: [
      'terminal', 'user', 'args', 'env', 'cwd', 'capabilities', 'rlimits',
      'noNewPrivileges', 'oomScoreAdj',
    ],
    unsupported: [
      'consoleSize', 'apparmorProfile', 'selinuxLabel', 'scheduler', 'ioPriority',
      'execCPUAffinity', 'commandLine',
    ],
    required: ['user', 'args', 'cwd'],
  });

  // terminal: false is accepted because it requests nothing; terminal: true is not.
  if (optional(object, 'terminal', path, expectBoolean) === true) {
    throw unsupportedField(joinPath(path, 'terminal'), true);
  }
  checkUser(object.user, joinPath(path, 'user'));
  checkArgs(object.args, joinPath(path, 'args'));
  optional(object, 'env', path, checkEnv);
  expectAbsolutePath(object.cwd, joinPath(path, 'cwd'));
  optional(object, 'capabilities', path, checkCapabilities);
  optional(object, 'rlimits', path, checkRlimits);
  optional(object, 'noNewPrivileges', path, expectBoolean);
  optional(object, 'oomScoreAdj', path, (v, p) => expectInteger(v, p, { min: -1000, max: 1000 }));
  return object as unknown as Process;
}

function checkUser(value: unknown, path: string): void {
  const user = expectObject(value, path, {
    known: ['uid', 'gid', 'umask', 'additionalGids'],
    unsupported: ['username'],
    required: ['uid', 'gid'],
  });
  expectInteger(user.uid, joinPath(path, 'uid'), ID_RANGE);
  expectInteger(user.gid, joinPath(path, 'gid'), ID_RANGE);
  optional(user, 'umask', path, (v, p) => expectInteger(v, p, { min: 0, max: 0o777 }));
  optional(user, 'additionalGids', path, (v, p) => {
    expectArray(v, p).forEach((gid, i) => expectInteger(gid, joinPath(p, i), ID_RANGE));
  });
}

function checkArgs(value: unknown, path: string): void {
  const args = expectStringArray(value, path);
  if (args.length === 0) throw fieldError(path, value, 'must name the program to run');
  if (args[0] === '') throw fieldError(joinPath(path, 0), '', 'must not be empty');
}

function checkEnv(value: unknown, path: string): void {
  expectStringArray(value, path).forEach((entry, i) => {
    if (entry.indexOf('=') < 1) {
      throw fieldError(joinPath(path, i), entry, 'must have the form KEY=VALUE');
    }
  });
}

function checkCapabilities(value: unknown, path: string): void {
  const caps = expectObject(value, path, { known: CAPABILITY_SETS });
  for (const set of CAPABILITY_SETS) {
    optional(caps, set, path, (v, p) => {
      expectStringArray(v, p).forEach((name, i) => {
        if (!isCapability(name)) throw fieldError(joinPath(p, i), name, 'is not a capability');
      });
    });
  }

  // capset(2) fails with EPERM when the effective set is not a subset of the
  // permitted set, so report it here with the names.
  const typed = caps as Capabilities;
  const permitted = new Set(typed.permitted ?? []);
  for (const name of typed.effective ?? []) {
    if (!permitted.has(name)) {
      throw fieldError(joinPath(path, 'effective'), name, 'must also be in the permitted set');
    }
  }
}

function checkRlimits(value: unknown, path: string): void {
  const seen = new Set<string>();
  expectArray(value, path).forEach((item, i) => {
    const itemPath = joinPath(path, i);
    const keys = ['type', 'soft', 'hard'];
    const rlimit: JsonObject = expectObject(item, itemPath, { known: keys, required: keys });
    const type = expectString(rlimit.type, joinPath(itemPath, 'type'));
    if (!isRlimit(type)) throw fieldError(joinPath(itemPath, 'type'), type, 'is not an rlimit');
    if (seen.has(type)) throw fieldError(joinPath(itemPath, 'type'), type, 'is listed twice');
    seen.add(type);

    const soft = checkRlimitValue(rlimit.soft, joinPath(itemPath, 'soft'));
    const hard = checkRlimitValue(rlimit.hard, joinPath(itemPath, 'hard'));
    if (soft > hard) throw fieldError(itemPath, item, 'soft limit must not exceed the hard limit');
  });
}

// Returns the value with RLIM_INFINITY as Infinity, so that soft and hard compare.
function checkRlimitValue(value: unknown, path: string): number {
  if (value === RLIM_INFINITY_JSON) return Infinity;
  return expectInteger(value, path, { min: 0, max: Number.MAX_SAFE_INTEGER });
}
