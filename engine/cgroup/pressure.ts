// Pressure stall information (PSI) from <resource>.pressure files.

import { promises as fs } from 'node:fs';
import { join } from 'node:path';

import { fromSystemError } from '../errors.js';
import type { CgroupStats, PressureLine, PressureStats } from './types.js';

export type PressureResource = 'cpu' | 'memory' | 'io';

/**
 * Parses a pressure file: a `some` line and, except for cpu on kernels
 * before 5.13, a `full` line, each "avg10=0.00 avg60=0.00 avg300=0.00 total=0"
 * (averages in percent, total in microseconds).
 */
export function parsePressure(text: string): PressureStats | undefined {
  const lines = new Map<string, PressureLine>();
  for (const line of text.split('\n')) {
    const [kind, ...pairs] = line.trim().split(/\s+/);
    if (kind !== 'some' && kind !== 'full') continue;
    const values = new Map(pairs.map((pair) => pair.split('=') as [string, string]));
    lines.set(kind, {
      avg10: Number(values.get('avg10') ?? 0),
      avg60: Number(values.get('avg60') ?? 0),
      avg300: Number(values.get('avg300') ?? 0),
      total: Number(values.get('total') ?? 0),
    });
  }
  const some = lines.get('some');
  if (!some) return undefined;
  const full = lines.get('full');
  return full ? { some, full } : { some };
}

/**
 * Adds `<resource>.pressure` from `dir` to `stats`. A missing file, or one the
 * kernel rejects because PSI is off (psi=0 gives EOPNOTSUPP), is skipped.
 */
export async function addPressure(
  dir: string,
  resource: PressureResource,
  stats: CgroupStats,
): Promise<void> {
  const file = join(dir, `${resource}.pressure`);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EOPNOTSUPP') return;
    throw fromSystemError('read cgroup file', file, err);
  }
  const parsed = parsePressure(text);
  if (!parsed) return;
  stats.pressure = { ...stats.pressure, [resource]: parsed };
}
