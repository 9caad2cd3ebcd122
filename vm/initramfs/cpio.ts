// A writer for the "newc" cpio format, the one the kernel unpacks as an initramfs.

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Buffer; mode?: number }
  | { type: 'symlink'; path: string; target: string };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/** Encodes entries as one newc archive, ending with the TRAILER!!! entry. */
export function encodeCpio(entries: readonly CpioEntry[]): Buffer {
  const chunks: Buffer[] = [];
  let inode = 1;
  for (const entry of entries) {
    const { mode, data } = modeAndData(entry);
    chunks.push(...record(entry.path.replace(/^\/+/, ''), mode, data, inode++));
  }
  chunks.push(...record('TRAILER!!!', 0, Buffer.alloc(0), 0));
  return Buffer.concat(chunks);
}

function modeAndData(entry: CpioEntry): { mode: number; data: Buffer } {
  switch (entry.type) {
    case 'dir':
      return { mode: S_IFDIR | (entry.mode ?? 0o755), data: Buffer.alloc(0) };
    case 'file':
      return { mode: S_IFREG | (entry.mode ?? 0o644), data: entry.data };
    case 'symlink':
      return { mode: S_IFLNK | 0o777, data: Buffer.from(entry.target) };
  }
}

function record(name: string, mode: number, data: Buffer, inode: number): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`);
  // Fields in order: ino mode uid gid nlink mtime filesize devmajor devminor
  // rdevmajor rdevminor namesize check, each 8 hex digits.
  const fields = [inode, mode, 0, 0, mode & S_IFDIR ? 2 : 1, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0];
  const header = Buffer.from(`070701${fields.map((n) => n.toString(16).padStart(8, '0')).join('')}`);
  return [header, nameBytes, padding(header.length + nameBytes.length), data, padding(data.length)];
}

function padding(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}
