// Kernels by name: each name is a Debian release whose kernel package the qemu target boots.
import { IsolabError } from '../../engine/errors.js';

export interface KernelSpec {
  name: string;
  /** The Debian suite whose linux-image-amd64 picks the kernel package. */
  suite: string;
  /** The upstream series, for messages. */
  series: string;
}

export const KERNELS: readonly KernelSpec[] = [
  { name: 'debian-6.1', suite: 'bookworm', series: '6.1' },
  { name: 'debian-6.12', suite: 'trixie', series: '6.12' },
  { name: 'debian-5.10', suite: 'bullseye', series: '5.10' },
];

export const DEFAULT_KERNEL = 'debian-6.1';

/** A kernel name with an optional exact package version: debian-6.1@6.1.192-3. */
export interface KernelRequest {
  spec: KernelSpec;
  version?: string;
}

/** Parses NAME or NAME@VERSION; an unknown name fails with the list of known ones. */
export function parseKernelRequest(text: string = DEFAULT_KERNEL): KernelRequest {
  const at = text.indexOf('@');
  const name = at < 0 ? text : text.slice(0, at);
  const version = at < 0 ? undefined : text.slice(at + 1);
  const spec = KERNELS.find((kernel) => kernel.name === name);
  if (!spec) {
    throw new IsolabError({
      kind: 'invalid-input',
      op: 'find kernel',
      value: text,
      reason: `unknown kernel name; known kernels: ${KERNELS.map((kernel) => kernel.name).join(', ')}`,
    });
  }
  if (version !== undefined && !/^[0-9][A-Za-z0-9.+~:-]*$/.test(version)) {
    throw new IsolabError({
      kind: 'invalid-input',
      op: 'find kernel',
      value: text,
      reason: 'the version after @ is a Debian package version such as 6.1.192-3',
    });
  }
  return { spec, version };
}
