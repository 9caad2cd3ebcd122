// Published ports: host 127.0.0.1:HOSTPORT to a container's port, by DNAT
// in the nat output hook. A kernel rule costs nothing per connection and
// needs no process of its own; a userspace proxy would, and would show the
// container every client as the proxy. It requires route_localnet on the
// bridge and a masquerade of the 127.0.0.1 source, so replies come back.
import { IsolabError } from '../errors.js';
import type { StateStore } from '../state.js';
import { nftApply, nftListTable, nftTables } from './commands.js';
import { publishTableName, rootTag } from './names.js';
import { isPortFree, portHolder } from './ports.js';
import type { NetworkFile } from './bridge.js';
import type { PortMapping } from './config.js';

/** Throws, naming the port and its holder, when a host port is published or bound already. */
export async function rejectTakenPorts(store: StateStore, file: NetworkFile, publish: PortMapping[]): Promise<void> {
  for (const { hostPort } of publish) {
    const owner = Object.entries(file.leases).find(([, lease]) => lease.publish.some((p) => p.hostPort === hostPort));
    if (owner) throw taken(hostPort, `container ${owner[0]} publishes it`);
    const otherRoot = await publishedByOtherRoot(store, hostPort);
    if (otherRoot) throw taken(hostPort, `nftables table ${otherRoot} publishes it`);
    if (!(await isPortFree(hostPort))) {
      throw taken(hostPort, `${(await portHolder(hostPort)) ?? 'another process'} listens on it`);
    }
  }
}

function taken(port: number, holder: string): IsolabError {
  return new IsolabError({ kind: 'already-exists', op: 'publish host port', value: `127.0.0.1:${port}`, reason: `it is in use: ${holder}` });
}

/** Returns the isolab table of another state root that publishes hostPort, if any. */
async function publishedByOtherRoot(store: StateStore, hostPort: number): Promise<string | undefined> {
  const own = `isolab_${rootTag(store)}_`;
  for (const entry of await nftTables()) {
    const [family, name] = entry.split(' ');
    if (family !== 'ip' || !name?.startsWith('isolab_') || name.startsWith(own)) continue;
    const listing = await nftListTable('ip', name);
    if (new RegExp(`tcp dport ${hostPort} dnat`).test(listing)) return name;
  }
  return undefined;
}

/** Adds the DNAT and masquerade rules for a container; returns the table's name. */
export async function publishPorts(store: StateStore, id: string, ip: string, publish: PortMapping[]): Promise<string> {
  const table = publishTableName(store, id);
  const dnat = publish.map((p) => `    ip daddr 127.0.0.1 tcp dport ${p.hostPort} dnat to ${ip}:${p.port}`);
  const snat = publish.map((p) => `    ip saddr 127.0.0.1 ip daddr ${ip} tcp dport ${p.port} masquerade`);
  await nftApply('publish ports', `${id} ${publish.map((p) => `${p.hostPort}:${p.port}`).join(',')}`, `table ip ${table} {
  chain output {
    type nat hook output priority -100; policy accept;
${dnat.join('\n')}
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
${snat.join('\n')}
  }
}
`);
  return table;
}
