// The network a container requests: the `isolab.network`, `isolab.ip` and
// `isolab.publish` annotations, or the matching command-line options.
import { IsolabError } from '../errors.js';
import type { Spec } from '../spec/oci.js';
import { parseAddress, parseSubnet, type Subnet } from './address.js';

export type NetworkMode = 'host' | 'joined' | 'none' | 'bridge';

/** One published port: host 127.0.0.1:hostPort to the container's port, TCP. */
export interface PortMapping { hostPort: number; port: number }

/** The network a container requests, validated. */
export interface NetworkRequest {
  mode: NetworkMode;
  /** A fixed address inside the bridge's subnet, for mode bridge. */
  ip?: number;
  publish: PortMapping[];
  /** The bridge's subnet if this create makes the bridge. */
  subnet?: Subnet;
}

/** Command-line and API overrides of the annotations. */
export interface NetworkOptions {
  net?: string;
  ip?: string;
  publish?: string[];
  subnet?: string;
}

const MODES = ['none', 'bridge'];

/** Reads the network request from a spec's namespaces and annotations, with overrides. */
export function networkRequest(spec: Spec, options: NetworkOptions = {}): NetworkRequest {
  const netns = spec.linux?.namespaces?.find((ns) => ns.type === 'network');
  const annotations = spec.annotations ?? {};
  const modeText = options.net ?? annotations['isolab.network'];
  const ipText = options.ip ?? annotations['isolab.ip'];
  const publishText = options.publish?.join(',') ?? annotations['isolab.publish'];
  const subnet = options.subnet === undefined ? undefined : parseSubnet(options.subnet);

  if (modeText !== undefined && !MODES.includes(modeText)) {
    throw invalid('isolab.network', modeText, `use ${MODES.join(' or ')}`);
  }
  if (!netns || netns.path) {
    for (const [name, value] of [['isolab.network', modeText], ['isolab.ip', ipText], ['isolab.publish', publishText]]) {
      if (value !== undefined) {
        throw invalid(name!, value, 'needs a new network namespace in linux.namespaces (without a path)');
      }
    }
    return { mode: netns ? 'joined' : 'host', publish: [] };
  }
  const mode = (modeText ?? 'none') as NetworkMode;
  if (mode === 'none' && (ipText !== undefined || publishText !== undefined)) {
    throw invalid(ipText !== undefined ? 'isolab.ip' : 'isolab.publish', ipText ?? publishText, 'needs isolab.network=bridge');
  }
  const request: NetworkRequest = { mode, publish: publishText ? parsePublish(publishText) : [] };
  if (ipText !== undefined) request.ip = parseAddress(ipText, 'isolab.ip');
  if (subnet) request.subnet = subnet;
  return request;
}

/** Parses `HOSTPORT:PORT[,HOSTPORT:PORT...]`. */
export function parsePublish(text: string): PortMapping[] {
  const mappings = text.split(',').map((item) => {
    const match = /^(\d+):(\d+)$/.exec(item.trim());
    if (!match) throw invalid('isolab.publish', item, 'use HOSTPORT:PORT, for example 8080:80');
    return { hostPort: port(match[1], item), port: port(match[2], item) };
  });
  const seen = new Set<number>();
  for (const m of mappings) {
    if (seen.has(m.hostPort)) throw invalid('isolab.publish', text, `host port ${m.hostPort} is listed twice`);
    seen.add(m.hostPort);
  }
  return mappings;
}

function port(text: string, item: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw invalid('isolab.publish', item, `port ${text} is outside 1-65535`);
  }
  return n;
}

function invalid(field: string, value: string | undefined, reason: string): IsolabError {
  return new IsolabError({ kind: 'invalid-input', op: `accept ${field}`, value: value ?? '', reason });
}
