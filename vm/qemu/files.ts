// The per-VM files on the host: SSH keys, sshd's configuration, the guest's
// parameters and the sparse ext4 work disk.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { IsolabError } from '../../engine/errors.js';
import type { KernelBuild } from '../kernels/store.js';
import type { VmRecord } from './runtime.js';

/** The keys a VM's harness uses: its private key and the guest's host key in wire format. */
export interface VmKeys {
  privateKey: Buffer;
  hostKey: Buffer;
}

const SSHD_CONFIG = `Port 22
ListenAddress 0.0.0.0
HostKey /run/isolab/ssh_host_ed25519_key
AuthorizedKeysFile /run/isolab/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
StrictModes no
PrintMotd no
PrintLastLog no
PidFile /run/sshd.pid
MaxSessions 64
MaxStartups 64
Subsystem sftp internal-sftp
`;

/** Generates the VM's client key and host key with ssh-keygen and writes the guest's sshd files. */
export async function writeKeys(dir: string, name: string): Promise<VmKeys> {
  const guest = path.join(dir, 'guest');
  await fs.mkdir(guest, { recursive: true, mode: 0o700 });
  const clientKey = path.join(dir, 'id_ed25519');
  const hostKey = path.join(guest, 'ssh_host_ed25519_key');
  await Promise.all([sshKeygen(clientKey, `isolab-harness@${name}`), sshKeygen(hostKey, `root@${name}`)]);
  await fs.copyFile(`${clientKey}.pub`, path.join(guest, 'authorized_keys'));
  await fs.writeFile(path.join(guest, 'sshd_config'), SSHD_CONFIG);
  return { privateKey: await fs.readFile(clientKey), hostKey: await readPublicKeyBlob(`${hostKey}.pub`) };
}

/** Reads the keys of an existing VM, for `isolab vm exec`. */
export async function readKeys(dir: string): Promise<VmKeys> {
  return {
    privateKey: await fs.readFile(path.join(dir, 'id_ed25519')),
    hostKey: await readPublicKeyBlob(path.join(dir, 'guest', 'ssh_host_ed25519_key.pub')),
  };
}

async function sshKeygen(file: string, comment: string): Promise<void> {
  const result = await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { reject: false });
  if (result.failed) {
    const missing = (result as { code?: string }).code === 'ENOENT';
    throw new IsolabError({
      kind: missing ? 'missing-tool' : 'system',
      op: 'generate SSH key',
      value: file,
      reason: missing ? 'ssh-keygen is missing; install the Debian package openssh-client' : result.stderr,
    });
  }
}

/** Decodes an OpenSSH public key line ("ssh-ed25519 BASE64 comment") to its wire format. */
export async function readPublicKeyBlob(file: string): Promise<Buffer> {
  const text = await fs.readFile(file, 'utf8');
  return Buffer.from(text.trim().split(/\s+/)[1] ?? '', 'base64');
}

/** Writes the shell variables stage 2 reads from /run/isolab/params. */
export async function writeParams(record: VmRecord, build: KernelBuild): Promise<void> {
  const params: Record<string, string> = {
    ISOLAB_HOSTNAME: record.name,
    ISOLAB_RELEASE: build.release,
    // The guest's root is the host's, so the cache paths are the same inside.
    ISOLAB_MODULES: build.modulesDir,
    ISOLAB_CONFIG: build.config,
    ISOLAB_CGROUP: record.cgroup,
    ISOLAB_SWAP_MIB: String(record.swapMiB),
    ISOLAB_WORKDIR: record.workDir,
  };
  const lines = Object.entries(params).map(([key, value]) => `${key}='${value.replace(/'/g, `'\\''`)}'`);
  await fs.writeFile(path.join(record.dir, 'guest', 'params'), `${lines.join('\n')}\n`);
}

/** Makes the sparse ext4 work disk: it takes host space only for what the guest writes. */
export async function makeWorkDisk(dir: string, sizeGiB: number): Promise<void> {
  const image = path.join(dir, 'work.img');
  const handle = await fs.open(image, 'w');
  await handle.truncate(sizeGiB * 1024 ** 3);
  await handle.close();
  const result = await execa('mkfs.ext4', ['-q', '-F', '-L', 'isolab-work', '-E', 'lazy_journal_init=1', image], { reject: false });
  if (result.failed) {
    const missing = (result as { code?: string }).code === 'ENOENT';
    throw new IsolabError({
      kind: missing ? 'missing-tool' : 'system',
      op: 'make the work disk',
      value: image,
      reason: missing ? 'mkfs.ext4 is missing; install the Debian package e2fsprogs' : result.stderr,
    });
  }
}
