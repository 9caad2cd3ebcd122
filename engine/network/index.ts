// Container networking: loopback for every new network namespace, and for
// isolab.network=bridge a veth pair on the root's bridge with an address from
// the root's IPAM, a default route, and published ports.
import { IsolabError } from '../errors.js';
import type { StateStore } from '../state.js';
import { contains, numberToIp, parseSubnet } from './address.js';
import { ensureBridge, readNetworkFile, removeBridgeIfUnused, writeNetworkFile, type Lease, type NetworkFile } from './bridge.js';
import { ipBatch, ipBatchIn, nftDeleteTable } from './commands.js';
import { hostVethName } from './names.js';
import { publishPorts, rejectTakenPorts } from './publish.js';
import type { NetworkRequest, PortMapping } from './config.js';

export { networkRequest, type NetworkOptions, type NetworkRequest } from './config.js';

/** A container's network as `state` shows it. */
export interface NetworkState {
  mode: NetworkRequest['mode'];
  bridge?: string;
  address?: string;
  prefixLength?: number;
  gateway?: string;
  hostInterface?: string;
  publish: PortMapping[];
}

const NETWORK_LOCK = '.network';

/** Sets up the network namespace of a created, not yet running init. */
export async function setupNetwork(
  store: StateStore,
  id: string,
  pid: number,
  request: NetworkRequest,
): Promise<NetworkState> {
  if (request.mode === 'host' || request.mode === 'joined') return { mode: request.mode, publish: [] };
  // The native helper brings up lo in every new network namespace.
  if (request.mode === 'none') return { mode: 'none', publish: [] };
  const lock = await store.lock(NETWORK_LOCK);
  try {
    const file = await ensureBridge(store, request.subnet);
    const ip = allocate(file, id, request.ip);
    await rejectTakenPorts(store, file, request.publish);
    const lease: Lease = { ip, hostVeth: hostVethName(store, id), publish: request.publish };
    file.leases[id] = lease;
    // The lease is written before any link exists, so gc finds whatever a
    // crash from here on leaves behind.
    await writeNetworkFile(store, file);
    const prefix = Number(file.subnet.split('/')[1]);
    await ipBatch('create veth pair', lease.hostVeth, [
      `link add ${lease.hostVeth} type veth peer name eth0 netns ${pid}`,
      `link set ${lease.hostVeth} master ${file.bridge}`,
      `link set ${lease.hostVeth} up`,
    ]);
    await ipBatchIn(pid, 'configure eth0', `${ip}/${prefix}`, [
      `addr add ${ip}/${prefix} dev eth0`,
      'link set eth0 up',
      `route add default via ${file.gateway}`,
    ]);
    if (request.publish.length > 0) {
      lease.publishTable = await publishPorts(store, id, ip, request.publish);
      await writeNetworkFile(store, file);
    }
    return stateOf(file, lease);
  } finally {
    lock.release();
  }
}

function stateOf(file: NetworkFile, lease: Lease): NetworkState {
  return {
    mode: 'bridge',
    bridge: file.bridge,
    address: lease.ip,
    prefixLength: Number(file.subnet.split('/')[1]),
    gateway: file.gateway,
    hostInterface: lease.hostVeth,
    publish: lease.publish,
  };
}

/** Picks the requested address or the lowest free one; the gateway is .1 of the subnet. */
function allocate(file: NetworkFile, id: string, requested: number | undefined): string {
  const subnet = parseSubnet(file.subnet);
  const size = 2 ** (32 - subnet.prefix);
  const taken = new Map(Object.entries(file.leases).map(([owner, lease]) => [lease.ip, owner]));
  if (requested !== undefined) {
    const text = numberToIp(requested);
    const reserved = requested === subnet.network || requested === subnet.network + 1 || requested === subnet.network + size - 1;
    if (!contains(subnet, requested) || reserved) {
      throw new IsolabError({
        kind: 'invalid-input', op: 'accept isolab.ip', value: text,
        reason: `use a host address of ${file.subnet} other than the gateway ${file.gateway}`,
      });
    }
    const owner = taken.get(text);
    if (owner !== undefined) {
      throw new IsolabError({ kind: 'already-exists', op: 'accept isolab.ip', value: text, reason: `container ${owner} has it` });
    }
    return text;
  }
  for (let host = 2; host < size - 1; host++) {
    const text = numberToIp(subnet.network + host);
    if (!taken.has(text)) return text;
  }
  throw new IsolabError({ kind: 'system', op: 'allocate an address', value: `${id} in ${file.subnet}`, reason: 'the subnet is full' });
}

/** Removes a container's veth, published-port rules and lease, and the bridge after the last one. */
export async function teardownNetwork(store: StateStore, id: string): Promise<void> {
  const lock = await store.lock(NETWORK_LOCK);
  try {
    const file = await readNetworkFile(store);
    if (!file) return;
    const lease = file.leases[id];
    if (lease) {
      await releaseLease(lease);
      delete file.leases[id];
      await writeNetworkFile(store, file);
    }
    await removeBridgeIfUnused(store, file);
  } finally {
    lock.release();
  }
}

async function releaseLease(lease: Lease): Promise<void> {
  if (lease.publishTable) await nftDeleteTable('ip', lease.publishTable);
  // The veth pair goes with the container's network namespace, but the
  // namespace can outlive init (a joined container, a bind mount), so the
  // host end is deleted explicitly.
  await ipBatch('delete veth', lease.hostVeth, [`link del ${lease.hostVeth}`]).catch((err: IsolabError) => {
    if (!/Cannot find device/.test(err.message)) throw err;
  });
}

/** Releases leases of containers that no longer exist; returns their ids. */
export async function collectNetworkGarbage(store: StateStore, live: Set<string>): Promise<string[]> {
  const lock = await store.lock(NETWORK_LOCK);
  try {
    const file = await readNetworkFile(store);
    if (!file) return [];
    const released: string[] = [];
    for (const [id, lease] of Object.entries(file.leases)) {
      if (live.has(id)) continue;
      await releaseLease(lease);
      delete file.leases[id];
      released.push(id);
    }
    await writeNetworkFile(store, file);
    await removeBridgeIfUnused(store, file);
    return released;
  } finally {
    lock.release();
  }
}
