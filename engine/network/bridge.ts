// The root's bridge and the network file that records it and its leases.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { IsolabError } from '../errors.js';
import { writeAtomic, type StateStore } from '../state.js';
import { DEFAULT_SUBNET, formatSubnet, numberToIp, overlaps, parseSubnet, type Subnet } from './address.js';
import { ipBatch, ipJson, nftApply, nftDeleteTable } from './commands.js';
import { bridgeName, filterTableName } from './names.js';
import type { PortMapping } from './config.js';

/** One container's address and links, kept until delete or gc releases them. */
export interface Lease { ip: string; hostVeth: string; publish: PortMapping[]; publishTable?: string }

/** The network file of a state root: its bridge, subnet and leases. */
export interface NetworkFile {
  bridge: string;
  subnet: string;
  gateway: string;
  leases: Record<string, Lease>;
}

export function networkFilePath(store: StateStore): string {
  return path.join(store.root, '.network.json');
}

export async function readNetworkFile(store: StateStore): Promise<NetworkFile | undefined> {
  try {
    return JSON.parse(await fs.readFile(networkFilePath(store), 'utf8')) as NetworkFile;
  } catch {
    return undefined;
  }
}

export async function writeNetworkFile(store: StateStore, file: NetworkFile): Promise<void> {
  await fs.mkdir(store.root, { recursive: true });
  await writeAtomic(networkFilePath(store), JSON.stringify(file, null, 2));
}

/** Returns the root's bridge, creating it with `requested` (or the default subnet) on first use. */
export async function ensureBridge(store: StateStore, requested: Subnet | undefined): Promise<NetworkFile> {
  const existing = await readNetworkFile(store);
  if (existing) {
    if (requested && formatSubnet(requested) !== existing.subnet) {
      throw new IsolabError({
        kind: 'invalid-input',
        op: 'accept subnet',
        value: formatSubnet(requested),
        reason: `bridge ${existing.bridge} already uses ${existing.subnet}; a subnet is set only when the bridge is first made`,
      });
    }
    return existing;
  }
  const subnet = requested ?? parseSubnet(DEFAULT_SUBNET);
  const name = bridgeName(store);
  // A bridge of this root without a network file is left from a crash.
  await ipBatch('delete stale bridge', name, [`link del ${name}`]).catch(() => undefined);
  await rejectOverlap(name, subnet);
  const gateway = numberToIp(subnet.network + 1);
  const file: NetworkFile = { bridge: name, subnet: formatSubnet(subnet), gateway, leases: {} };
  await writeNetworkFile(store, file);
  await ipBatch('create bridge', name, [
    `link add ${name} type bridge`,
    `addr add ${gateway}/${subnet.prefix} dev ${name}`,
    `link set ${name} up`,
  ]);
  // Published ports DNAT 127.0.0.1 to a container; the kernel drops packets
  // with a loopback source on other interfaces unless route_localnet is set.
  await fs.writeFile(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, '1');
  // Nothing may leave the machine through the bridge: no masquerade, and a
  // drop for packets routed between the bridge and any other interface in
  // case the host forwards packets. Bridged traffic (bridge to bridge) passes.
  const table = filterTableName(store);
  await nftApply('create nftables table', table, `table inet ${table} {
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "${name}" oifname != "${name}" drop
    oifname "${name}" iifname != "${name}" drop
  }
}
`);
  return file;
}

/** Throws when another isolab bridge on the host already uses an overlapping subnet. */
async function rejectOverlap(name: string, subnet: Subnet): Promise<void> {
  const links = (await ipJson(['addr', 'show', 'type', 'bridge'])) as Array<{
    ifname: string;
    addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
  }>;
  for (const link of links) {
    for (const addr of link.addr_info ?? []) {
      if (addr.family !== 'inet') continue;
      const other = parseSubnetLoose(addr.local, addr.prefixlen);
      if (other && overlaps(other, subnet)) {
        throw new IsolabError({
          kind: 'already-exists',
          op: 'create bridge',
          value: `${name} ${formatSubnet(subnet)}`,
          reason: `${link.ifname} already has ${addr.local}/${addr.prefixlen}; choose another range with --subnet`,
        });
      }
    }
  }
}

function parseSubnetLoose(ip: string, prefix: number): Subnet | undefined {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4) return undefined;
  const n = parts.reduce((acc, p) => acc * 256 + p, 0);
  const size = 2 ** (32 - prefix);
  return { network: n - (n % size), prefix };
}

/** Removes the bridge, its filter table and the network file once no lease is left. */
export async function removeBridgeIfUnused(store: StateStore, file: NetworkFile): Promise<boolean> {
  if (Object.keys(file.leases).length > 0) return false;
  await ipBatch('delete bridge', file.bridge, [`link del ${file.bridge}`]).catch((err: IsolabError) => {
    if (!/Cannot find device/.test(err.message)) throw err;
  });
  await nftDeleteTable('inet', filterTableName(store));
  await fs.rm(networkFilePath(store), { force: true });
  return true;
}
