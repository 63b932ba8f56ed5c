import { invalidArgument } from '../../errors';
import { parseIPv4 } from '../ipam/subnets';

/** One published port as asked for: hostPort 0 means an ephemeral one; with hostPortLast, the first free one of hostPort..hostPortLast (`-p 8000-8010:80`). */
export interface PortRequest {
  proto: 'tcp' | 'udp';
  containerPort: number;
  hostIp: string;
  hostPort: number;
  hostPortLast?: number;
}

/** One published port as set up. */
export interface PortMapping {
  proto: 'tcp' | 'udp';
  containerPort: number;
  hostIp: string;
  hostPort: number;
}

type Bindings = Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null | undefined;

function parseKey(key: string): { port: number; proto: 'tcp' | 'udp' } {
  const [portText, protoText = 'tcp'] = key.split('/');
  const port = /^\d+$/.test(portText ?? '') ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) throw invalidArgument(`invalid port specification: "${key}"`);
  if (protoText !== 'tcp' && protoText !== 'udp') throw invalidArgument(`invalid proto: ${protoText} (only tcp and udp can be published)`);
  return { port, proto: protoText };
}

/**
 * The ports a container publishes: its PortBindings of exposed ports, and with PublishAllPorts
 * every exposed port without a binding on an ephemeral host port (docker run -P). As dockerd
 * (its endpoint options walk Config.ExposedPorts), a binding of a port the container does not
 * expose publishes nothing; the docker CLI, compose and docker-py send both. Every binding is
 * still checked (at create: pass `exposed` undefined to check all). A binding without a host
 * address takes `defaultHostIp` (the network's `com.docker.network.bridge.host_binding_ipv4`).
 */
export function portRequests(bindings: Bindings, publishAll: boolean | undefined, exposed: Record<string, unknown> | null | undefined, defaultHostIp = '0.0.0.0'): PortRequest[] {
  const requests: PortRequest[] = [];
  const exposedKeys = new Set(Object.keys(exposed ?? {}).map((key) => {
    const { port, proto } = parseKey(key);
    return `${port}/${proto}`;
  }));
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const { port, proto } = parseKey(key);
    const isExposed = exposed === undefined || exposedKeys.has(`${port}/${proto}`);
    for (const binding of list ?? []) {
      const hostIp = binding.HostIp || defaultHostIp;
      if (parseIPv4(hostIp) === undefined) throw invalidArgument(`invalid host IP ${hostIp} for port ${key}: berth publishes on IPv4 addresses only`);
      const hostPortText = binding.HostPort ?? '';
      const range = /^(\d+)-(\d+)$/.exec(hostPortText);
      const hostPort = hostPortText === '' ? 0 : range ? Number(range[1]) : /^\d+$/.test(hostPortText) ? Number(hostPortText) : NaN;
      const hostPortLast = range ? Number(range[2]) : undefined;
      if (!(hostPort >= 0 && hostPort <= 65535) || (hostPortLast !== undefined && !(hostPortLast >= hostPort && hostPortLast <= 65535 && hostPort >= 1))) throw invalidArgument(`invalid host port ${hostPortText} for port ${key}`);
      if (isExposed) requests.push({ proto, containerPort: port, hostIp, hostPort, ...(hostPortLast !== undefined && hostPortLast !== hostPort ? { hostPortLast } : {}) });
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposed ?? {})) {
      const { port, proto } = parseKey(key);
      if (!requests.some((r) => r.containerPort === port && r.proto === proto)) requests.push({ proto, containerPort: port, hostIp: defaultHostIp, hostPort: 0 });
    }
  }
  return requests;
}

/** NetworkSettings.Ports: every exposed or published port, with its host bindings (null: none). */
export function portMap(exposed: Record<string, unknown> | null | undefined, mappings: readonly PortMapping[]): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  const map: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const key of Object.keys(exposed ?? {})) map[key.includes('/') ? key : `${key}/tcp`] = null;
  for (const m of mappings) {
    const key = `${m.containerPort}/${m.proto}`;
    (map[key] ??= []).push({ HostIp: m.hostIp, HostPort: String(m.hostPort) });
  }
  return map;
}
