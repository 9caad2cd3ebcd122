// The pids controller. Its files are the same on v1 and v2.

import { join } from 'node:path';

import type { LinuxResources } from '../spec/oci.js';
import { readFlatKeyed, readInteger, readRequired } from './files.js';
import { parseMax, setField, type ControllerDirs, type ControllerOps } from './ops.js';
import type { CgroupStats, CgroupVersion } from './types.js';
import { checkInteger } from './validate.js';

const field = 'linux.resources.pids.limit';

function validate(resources: LinuxResources): void {
  if (!resources.pids) return;
  checkInteger(field, resources.pids.limit, {
    min: 0,
    unlimited: true,
    expected: 'a task count of 0 or more (0 means unlimited)',
  });
}

/** Returns the pids.max value for an OCI limit: 0 and -1 mean unlimited, as in runc. */
export function pidsMaxValue(limit: number): string {
  return limit <= 0 ? 'max' : String(limit);
}

async function apply(dirs: ControllerDirs, resources: LinuxResources): Promise<void> {
  if (!resources.pids) return;
  const { limit } = resources.pids;
  await setField(dirs.dir, 'pids.max', pidsMaxValue(limit), field, limit);
}

async function stats(dirs: ControllerDirs, into: CgroupStats): Promise<void> {
  const { dir } = dirs;
  const maxFile = join(dir, 'pids.max');
  const events = await readFlatKeyed(join(dir, 'pids.events'));
  into.pids = {
    current: await readInteger(join(dir, 'pids.current')),
    limit: parseMax(await readRequired(maxFile), maxFile),
    events: events?.max === undefined ? {} : { max: events.max },
  };
}

function makeOps(version: CgroupVersion): ControllerOps {
  return {
    name: 'pids',
    version,
    requested: (resources) => resources.pids !== undefined,
    validate,
    apply,
    stats,
  };
}

export const pidsV1 = makeOps(1);
export const pidsV2 = makeOps(2);
