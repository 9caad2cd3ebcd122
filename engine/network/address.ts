// IPv4 addresses as 32-bit numbers, and the subnets container networks may use.
import { IsolabError } from '../errors.js';

/** A subnet as its network address and prefix length. */
export interface Subnet { network: number; prefix: number }

/**
 * The range container networks must stay in: 198.18.0.0/15 is reserved for
 * benchmarking (RFC 2544), so it collides with no real network.
 */
export const ALLOWED_RANGE: Subnet = { network: ipToNumber('198.18.0.0')!, prefix: 15 };
export const DEFAULT_SUBNET = '198.18.0.0/24';

/** Converts dotted-quad text to a number, or undefined when it is not one. */
export function ipToNumber(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (2 ** 32 - 2 ** (32 - prefix));
}

export function contains(subnet: Subnet, address: number): boolean {
  const m = mask(subnet.prefix);
  // Bitwise operators work on signed 32-bit values, so compare through >>> 0.
  return ((address & m) >>> 0) === subnet.network;
}

export function formatSubnet(subnet: Subnet): string {
  return `${numberToIp(subnet.network)}/${subnet.prefix}`;
}

/** Returns true when two subnets share any address. */
export function overlaps(a: Subnet, b: Subnet): boolean {
  return contains(a, b.network) || contains(b, a.network);
}

/** Parses `A.B.C.D/N` inside 198.18.0.0/15 with room for a gateway and one container. */
export function parseSubnet(text: string): Subnet {
  const match = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  const network = match ? ipToNumber(match[1]) : undefined;
  const prefix = match ? Number(match[2]) : NaN;
  if (network === undefined || !(prefix >= 0 && prefix <= 32)) {
    throw invalidSubnet(text, 'use A.B.C.D/N, for example 198.18.0.0/24');
  }
  const subnet = { network, prefix };
  if (((network & mask(prefix)) >>> 0) !== network) {
    throw invalidSubnet(text, `host bits are set; the network address is ${numberToIp((network & mask(prefix)) >>> 0)}`);
  }
  if (prefix < ALLOWED_RANGE.prefix || !contains(ALLOWED_RANGE, network)) {
    throw invalidSubnet(text, `container networks must lie inside ${formatSubnet(ALLOWED_RANGE)}`);
  }
  if (prefix > 30) throw invalidSubnet(text, 'a subnet needs room for a gateway and a container: /30 at most');
  return subnet;
}

/** Parses one address for a field such as isolab.ip. */
export function parseAddress(text: string, field: string): number {
  const n = ipToNumber(text);
  if (n === undefined) {
    throw new IsolabError({ kind: 'invalid-input', op: `accept ${field}`, value: text, reason: 'not an IPv4 address' });
  }
  return n;
}

function invalidSubnet(text: string, reason: string): IsolabError {
  return new IsolabError({ kind: 'invalid-input', op: 'accept subnet', value: text, reason });
}
