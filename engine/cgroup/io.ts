// The io controller (blkio on v1): weight, per-device throttling and I/O done.

import { join } from 'node:path';

import { invalidField } from '../errors.js';
import type { LinuxBlockIO, LinuxResources, ThrottleDevice } from '../spec/oci.js';
import { exists, readOptional } from './files.js';
import { setField, setsAnything, type ControllerDirs, type ControllerOps } from './ops.js';
import { addPressure } from './pressure.js';
import type { CgroupStats, CgroupVersion } from './types.js';
import { checkInteger, unsupported } from './validate.js';

const field = 'linux.resources.blockIO';

type ThrottleKey = Exclude<keyof LinuxBlockIO, 'weight'>;

/** Each OCI throttle list with its v1 file and its v2 io.max key. */
const throttles: readonly { key: ThrottleKey; v1File: string; v2Key: string }[] = [
  { key: 'throttleReadBpsDevice', v1File: 'blkio.throttle.read_bps_device', v2Key: 'rbps' },
  { key: 'throttleWriteBpsDevice', v1File: 'blkio.throttle.write_bps_device', v2Key: 'wbps' },
  { key: 'throttleReadIOPSDevice', v1File: 'blkio.throttle.read_iops_device', v2Key: 'riops' },
  { key: 'throttleWriteIOPSDevice', v1File: 'blkio.throttle.write_iops_device', v2Key: 'wiops' },
];

/** Converts blkio.weight (10 to 1000) to io.weight (1 to 10000), as runc does. */
export function blkioToIoWeight(weight: number): number {
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

function validate(resources: LinuxResources): void {
  const blockIO = resources.blockIO;
  if (!blockIO) return;
  if (blockIO.weight !== undefined) {
    checkInteger(`${field}.weight`, blockIO.weight,
      { min: 10, max: 1000, expected: 'an integer from 10 to 1000' });
  }
  for (const { key } of throttles) {
    const devices: unknown = blockIO[key];
    if (devices === undefined) continue;
    if (!Array.isArray(devices)) {
      throw invalidField(`${field}.${key}`, devices, 'must be a list of devices');
    }
    devices.forEach((device: unknown, index) => checkDevice(`${field}.${key}[${index}]`, device));
  }
}

function checkDevice(name: string, device: unknown): void {
  if (typeof device !== 'object' || device === null) {
    throw invalidField(name, device, 'must be an object with major, minor and rate');
  }
  const { major, minor, rate } = device as Partial<ThrottleDevice>;
  const count = { min: 0, expected: 'an integer of 0 or more' };
  checkInteger(`${name}.major`, major, count);
  checkInteger(`${name}.minor`, minor, count);
  checkInteger(`${name}.rate`, rate, count);
}

/** Writes the weight to the first of `files` that exists. */
async function setWeight(dir: string, files: [string, string][], weight: number): Promise<void> {
  for (const [file, value] of files) {
    if (await exists(join(dir, file))) {
      await setField(dir, file, value, `${field}.weight`, weight);
      return;
    }
  }
  throw unsupported(`${field}.weight`, weight,
    `none of ${files.map(([file]) => file).join(', ')} exists (no weight-based I/O scheduler)`);
}

async function applyV1(dirs: ControllerDirs, resources: LinuxResources): Promise<void> {
  const blockIO = resources.blockIO;
  if (!blockIO) return;
  if (blockIO.weight !== undefined) {
    const value = String(blockIO.weight);
    await setWeight(dirs.dir, [['blkio.weight', value], ['blkio.bfq.weight', value]],
      blockIO.weight);
  }

  // v1 takes one "major:minor rate" per write, and a rate of 0 removes the limit.
  for (const { key, v1File } of throttles) {
    for (const device of blockIO[key] ?? []) {
      await setField(dirs.dir, v1File, `${device.major}:${device.minor} ${device.rate}`,
        `${field}.${key}`, device);
    }
  }
}

async function applyV2(dirs: ControllerDirs, resources: LinuxResources): Promise<void> {
  const blockIO = resources.blockIO;
  if (!blockIO) return;

  // BFQ takes the v1 scale directly, but io.weight (blk-iocost) needs the conversion.
  if (blockIO.weight !== undefined) {
    await setWeight(dirs.dir, [
      ['io.bfq.weight', String(blockIO.weight)],
      ['io.weight', `default ${blkioToIoWeight(blockIO.weight)}`],
    ], blockIO.weight);
  }

  for (const [device, line] of ioMaxLines(blockIO)) {
    await setField(dirs.dir, 'io.max', line, `${field}.throttle`, device);
  }
}

/** Builds one io.max line per device, such as "8:0 rbps=1048576 wiops=max". */
export function ioMaxLines(blockIO: LinuxBlockIO): Map<string, string> {
  const lines = new Map<string, string>();
  for (const { key, v2Key } of throttles) {
    for (const device of blockIO[key] ?? []) {
      const id = deviceId(device);

      // A rate of 0 means no limit, which io.max spells "max".
      const value = device.rate === 0 ? 'max' : String(device.rate);
      lines.set(id, `${lines.get(id) ?? id} ${v2Key}=${value}`);
    }
  }
  return lines;
}

function deviceId(device: ThrottleDevice): string {
  return `${device.major}:${device.minor}`;
}

/** Parses v2 io.stat: "8:0 rbytes=4096 wbytes=0 rios=1 ..." per device. */
export function parseIoStat(text: string): Record<string, Record<string, number>> {
  const stat: Record<string, Record<string, number>> = {};
  for (const line of text.split('\n')) {
    const [device, ...pairs] = line.trim().split(/\s+/);
    if (!device || !device.includes(':')) continue;
    const counters: Record<string, number> = {};
    for (const pair of pairs) {
      const [key, value] = pair.split('=');
      if (key && value !== undefined && /^\d+$/.test(value)) counters[key] = Number(value);
    }
    stat[device] = counters;
  }
  return stat;
}

/**
 * Merges v1 blkio lines "8:0 Read 4096" into `stat` under the v2 names:
 * Read, Write and Discard become `<prefix>` plus r, w and d.
 */
export function mergeBlkioStat(
  text: string,
  kind: 'bytes' | 'ios',
  stat: Record<string, Record<string, number>>,
): void {
  const names: Record<string, string> = { Read: 'r', Write: 'w', Discard: 'd' };
  for (const line of text.split('\n')) {
    const [device, operation, value] = line.trim().split(/\s+/);
    const prefix = operation ? names[operation] : undefined;
    if (!device?.includes(':') || !prefix || value === undefined) continue;
    stat[device] = { ...stat[device], [`${prefix}${kind}`]: Number(value) };
  }
}

async function statsV2(dirs: ControllerDirs, stats: CgroupStats): Promise<void> {
  const text = await readOptional(join(dirs.dir, 'io.stat'));
  stats.io = { stat: text === undefined ? {} : parseIoStat(text) };
  await addPressure(dirs.dir, 'io', stats);
}

async function statsV1(dirs: ControllerDirs, stats: CgroupStats): Promise<void> {
  const stat: Record<string, Record<string, number>> = {};
  const sources: ['bytes' | 'ios', string][] = [
    ['bytes', 'blkio.throttle.io_service_bytes'],
    ['ios', 'blkio.throttle.io_serviced'],
  ];
  for (const [kind, file] of sources) {
    // The _recursive variant includes descendants, as v2 io.stat does.
    const text = (await readOptional(join(dirs.dir, `${file}_recursive`)))
      ?? (await readOptional(join(dirs.dir, file)));
    if (text !== undefined) mergeBlkioStat(text, kind, stat);
  }
  stats.io = { stat };
  await addPressure(dirs.dir, 'io', stats);
}

function makeOps(version: CgroupVersion): ControllerOps {
  return {
    name: 'io',
    version,
    requested: (resources) => setsAnything(resources.blockIO),
    validate,
    apply: version === 2 ? applyV2 : applyV1,
    stats: version === 2 ? statsV2 : statsV1,
  };
}

export const ioV1 = makeOps(1);
export const ioV2 = makeOps(2);
