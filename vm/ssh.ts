// The ssh target: any machine reachable over SSH, such as a lab box. It is not
// disposable, so attack scenarios need --allow-attacks.
import { promises as fs } from 'node:fs';
import ssh2 from 'ssh2';
import { fromSystemError, IsolabError } from '../engine/errors.js';
import { SshMachine } from './ssh-machine.js';
import { connectSsh } from './ssh-session.js';
import type { Target } from './types.js';

export interface SshOptions {
  host: string;
  port?: number;
  user?: string;
  /** Path of the private key file. */
  keyPath: string;
  /** Connection timeout in milliseconds (default 20 000). */
  timeoutMs?: number;
  allowAttacks?: boolean;
  /** Directory on the machine for reclaimable files and container layers (default /var/tmp/isolab-work). */
  workDir?: string;
}

export class SshTarget implements Target {
  readonly kind = 'ssh';
  readonly disposable = false;

  constructor(private readonly options: SshOptions) {
    if (!options.host) {
      throw new IsolabError({ kind: 'invalid-input', op: 'use ssh target', value: '', reason: 'a host is needed' });
    }
  }

  async start(): Promise<SshMachine> {
    const { host, port = 22, user = 'root', keyPath, timeoutMs = 20_000 } = this.options;
    const privateKey = await fs.readFile(keyPath).catch((err: unknown) => {
      throw fromSystemError('read SSH key', keyPath, err);
    });
    const parsed = ssh2.utils.parseKey(privateKey);
    if (parsed instanceof Error) {
      throw new IsolabError({ kind: 'invalid-input', op: 'read SSH key', value: keyPath, reason: `not a private key: ${parsed.message}` });
    }
    const client = await connectSsh({ host, port, username: user, privateKey }, timeoutMs);
    const workDir = this.options.workDir ?? '/var/tmp/isolab-work';
    const machine = new SshMachine(client, {
      name: `${user}@${host}:${port}`,
      target: 'ssh',
      disposable: false,
      attacksAllowed: this.options.allowAttacks ?? false,
      workDir,
    });
    await machine.run(['mkdir', '-p', workDir], { timeoutMs: 30_000 });
    return machine;
  }
}
