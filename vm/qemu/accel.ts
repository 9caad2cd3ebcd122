// KVM or TCG. /dev/kvm can open while KVM guests still hang (nested KVM on some
// hosts), so KVM is chosen only after a probe boots a guest whose init powers
// off at once. The result is cached per host kernel and QEMU version.
import { promises as fs, constants as fsConstants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { IsolabError } from '../../engine/errors.js';
import { QEMU_BINARY } from './command.js';

export type AccelRequest = 'auto' | 'kvm' | 'tcg';

export interface AccelChoice {
  accel: 'kvm' | 'tcg';
  /** Why: the probe's result, the request, or the missing device. */
  reason: string;
}

interface ProbeRecord {
  key: string;
  accel: 'kvm' | 'tcg';
  reason: string;
  probedAt: string;
}

/** A function that boots a guest under KVM and reports whether it reached init and powered off. */
export type KvmProbe = () => Promise<{ ok: boolean; detail: string }>;

/** Picks the accelerator for a request, running and caching the KVM probe for `auto`. */
export async function chooseAccel(request: AccelRequest, cacheDir: string, probe: KvmProbe): Promise<AccelChoice> {
  if (request === 'tcg') return { accel: 'tcg', reason: 'requested' };
  const kvmError = await kvmOpenError();
  if (request === 'kvm') {
    if (kvmError) {
      throw new IsolabError({ kind: 'unsupported', op: 'use KVM through', value: '/dev/kvm', reason: kvmError });
    }
    return { accel: 'kvm', reason: 'requested' };
  }
  if (kvmError) return { accel: 'tcg', reason: `KVM is unavailable: ${kvmError}` };

  const key = `${os.release()} ${await qemuVersion()}`;
  const cacheFile = path.join(cacheDir, 'accel-probe.json');
  const cached = await readProbe(cacheFile);
  if (cached?.key === key) return { accel: cached.accel, reason: `cached probe: ${cached.reason}` };

  const result = await probe();
  const record: ProbeRecord = {
    key,
    accel: result.ok ? 'kvm' : 'tcg',
    reason: result.detail,
    probedAt: new Date().toISOString(),
  };
  await fs.mkdir(cacheDir, { recursive: true });
  await fs.writeFile(cacheFile, `${JSON.stringify(record, null, 2)}\n`);
  return { accel: record.accel, reason: `probe: ${record.reason}` };
}

/** Returns why /dev/kvm cannot be opened for reading and writing, or undefined when it can. */
export async function kvmOpenError(): Promise<string | undefined> {
  try {
    const handle = await fs.open('/dev/kvm', fsConstants.O_RDWR);
    await handle.close();
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? '/dev/kvm does not exist' : `/dev/kvm cannot be opened (${code})`;
  }
}

/** Returns the first line of `qemu-system-x86_64 --version`, or fails naming the Debian package. */
export async function qemuVersion(): Promise<string> {
  const result = await execa(QEMU_BINARY, ['--version'], { reject: false });
  if (result.failed) {
    throw new IsolabError({
      kind: 'missing-tool',
      op: 'run',
      value: QEMU_BINARY,
      reason: 'QEMU is missing; install the Debian package qemu-system-x86',
    });
  }
  return result.stdout.split('\n')[0];
}

async function readProbe(file: string): Promise<ProbeRecord | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text ? (JSON.parse(text) as ProbeRecord) : undefined;
}
