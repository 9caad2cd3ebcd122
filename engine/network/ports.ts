// Host port checks for published ports: whether 127.0.0.1:PORT is free, and
// which process listens on it when it is not.
import { createServer } from 'node:net';
import { promises as fs } from 'node:fs';

/** Returns true when a TCP listener can bind 127.0.0.1:port right now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Finds the process listening on a TCP port of the host's network namespace, as `pid N (comm)`. */
export async function portHolder(port: number): Promise<string | undefined> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await fs.readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // fields: sl local_address rem_address st ... inode (10th)
      if (fields.length < 10 || fields[3] !== '0A') continue;
      const localPort = parseInt(fields[1].split(':')[1], 16);
      if (localPort === port) inodes.add(fields[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const fds = await fs.readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const link = await fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const match = /^socket:\[(\d+)\]$/.exec(link);
      if (match && inodes.has(match[1])) {
        const comm = (await fs.readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?')).trim();
        return `pid ${pid} (${comm})`;
      }
    }
  }
  return 'a socket of another network namespace or user';
}
