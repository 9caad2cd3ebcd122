// `isolab doctor`: checks what a VM run needs and prints what to install.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { systemMirror } from '../kernels/apt.js';
import { listKernels } from '../kernels/store.js';
import { BUSYBOX, hasInterpreter } from '../initramfs/build.js';
import { kvmOpenError, qemuVersion } from '../qemu/accel.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** The Debian package that provides what is missing. */
  install?: string;
  /** False for checks that only inform, such as KVM, which TCG replaces. */
  required: boolean;
}

const TOOLS: { tool: string; package: string; purpose: string }[] = [
  { tool: 'setpriv', package: 'util-linux', purpose: 'kills QEMU when its harness dies' },
  { tool: 'ssh-keygen', package: 'openssh-client', purpose: 'makes the keys of each VM' },
  { tool: 'mkfs.ext4', package: 'e2fsprogs', purpose: 'makes the work disk' },
  { tool: 'apt-get', package: 'apt', purpose: 'fetches kernel packages' },
  { tool: 'dpkg-deb', package: 'dpkg', purpose: 'unpacks kernel packages' },
  { tool: 'depmod', package: 'kmod', purpose: 'indexes kernel modules; modprobe in the guest' },
  { tool: 'xz', package: 'xz-utils', purpose: 'unpacks xz kernels and modules' },
  { tool: 'zstd', package: 'zstd', purpose: 'unpacks zstd kernels (debian-6.12)' },
];

/** Runs every check; none of them changes the system. */
export async function runChecks(cacheDir: string, runDir: string): Promise<Check[]> {
  const checks: Check[] = [];
  checks.push(await checkQemu());
  checks.push(await checkKvm(cacheDir));
  checks.push(await checkFile(BUSYBOX, 'busybox-static', 'a static busybox for the initramfs', isStaticBusybox));
  checks.push(await checkFile('/usr/sbin/sshd', 'openssh-server', 'the guest runs the host\'s sshd'));
  for (const entry of TOOLS) checks.push(await checkTool(entry.tool, entry.package, entry.purpose));
  checks.push(await checkMirror());
  checks.push(await checkHostCgroups());
  checks.push(await checkWritable(cacheDir), await checkWritable(runDir));
  checks.push(await checkKernels(cacheDir));
  return checks;
}

async function checkQemu(): Promise<Check> {
  try {
    return { name: 'QEMU', ok: true, detail: await qemuVersion(), required: true };
  } catch {
    return { name: 'QEMU', ok: false, detail: 'qemu-system-x86_64 is missing', install: 'qemu-system-x86', required: true };
  }
}

async function checkKvm(cacheDir: string): Promise<Check> {
  const openError = await kvmOpenError();
  const probe = await fs.readFile(path.join(cacheDir, 'accel-probe.json'), 'utf8').catch(() => '');
  let detail = openError ? `${openError}; VMs use TCG` : '/dev/kvm opens';
  if (!openError) {
    const record = probe ? (JSON.parse(probe) as { accel: string; reason: string }) : undefined;
    detail += record ? `; the probe chose ${record.accel} (${record.reason})` : '; not probed yet (the first boot probes, up to 20 s)';
  }
  return { name: 'acceleration', ok: true, detail, required: false };
}

async function checkFile(file: string, pkg: string, purpose: string, test?: (data: Buffer) => boolean): Promise<Check> {
  const data = await fs.readFile(file).catch(() => undefined);
  const ok = data !== undefined && (test ? test(data) : true);
  return { name: file, ok, detail: ok ? purpose : `missing or unusable: ${purpose}`, install: ok ? undefined : pkg, required: true };
}

function isStaticBusybox(data: Buffer): boolean {
  return !hasInterpreter(data);
}

async function checkTool(tool: string, pkg: string, purpose: string): Promise<Check> {
  const result = await execa('which', [tool], { reject: false });
  const ok = result.exitCode === 0;
  return { name: tool, ok, detail: ok ? purpose : `missing: ${purpose}`, install: ok ? undefined : pkg, required: true };
}

async function checkMirror(): Promise<Check> {
  try {
    const mirror = await systemMirror();
    return { name: 'Debian mirror', ok: true, detail: `${mirror.archive} (security: ${mirror.security ?? 'none'})`, required: true };
  } catch (err) {
    return { name: 'Debian mirror', ok: false, detail: (err as Error).message, required: true };
  }
}

async function checkHostCgroups(): Promise<Check> {
  const mountinfo = await fs.readFile('/proc/self/mountinfo', 'utf8');
  const layout = cgroupLayout(/\s-\scgroup\s/.test(mountinfo), /\s-\scgroup2\s/.test(mountinfo));
  return { name: 'host cgroups', ok: true, detail: `${layout}; the local target uses this layout`, required: false };
}

function cgroupLayout(v1: boolean, v2: boolean): string {
  if (v1 && v2) return 'hybrid (v1 and cgroup2)';
  if (v2) return 'unified (cgroup v2)';
  if (v1) return 'legacy (cgroup v1)';
  return 'none mounted';
}

async function checkWritable(dir: string): Promise<Check> {
  try {
    await fs.mkdir(dir, { recursive: true });
    await fs.access(dir, fs.constants.W_OK);
    return { name: dir, ok: true, detail: 'writable', required: true };
  } catch (err) {
    return { name: dir, ok: false, detail: `not writable (${(err as NodeJS.ErrnoException).code}); run as root`, required: true };
  }
}

async function checkKernels(cacheDir: string): Promise<Check> {
  const kernels = await listKernels(cacheDir);
  const cached = kernels.filter((entry) => entry.builds.length > 0).map((entry) => `${entry.spec.name}@${entry.builds[0].packageVersion}`);
  const detail = cached.length > 0 ? `cached: ${cached.join(', ')}` : 'none cached; the first boot fetches one (`isolab kernels fetch`)';
  return { name: 'kernels', ok: true, detail, required: false };
}
