import { createHash, randomBytes } from 'node:crypto';
import { conflict, forbidden, invalidArgument, messageOf, notFound } from '../../errors';
import type { Filters } from '../../api/types/common';
import type { NetworkCreateRequest, NetworkCreateResponse, NetworkResource, NetworksPruneResponse } from '../../api/types/networks';
import type { Logger } from '../../util/logger';
import type { EventBus } from '../events/event-bus';
import type { NetworkStore } from '../../network/store';
import type { NetworkDriver, NetworkRecord } from '../../network/types';
import { contains, firstFreeAddress, formatIPv4, formatSubnet, overlaps, parseIPv4, parseSubnet, pickSubnet, type Subnet } from '../../network/ipam/subnets';
import { nowRfc3339 } from '../containers/container-context';

export const DEFAULT_NETWORK = 'bridge';
export const DEFAULT_BRIDGE = 'berth0';
const BUILTIN = ['bridge', 'host', 'none'] as const;

export interface NetworkServiceDeps {
  store: NetworkStore;
  driver: NetworkDriver;
  events: EventBus;
  logger: Logger;
  /** Whether the default `bridge` network exists (berthd --bridge none: it does not). */
  defaultBridge: boolean;
  /** The IPv4 prefixes the host routes, which a picked subnet must avoid. */
  hostRoutes(): Promise<Subnet[]>;
  /** The names of the running containers with an endpoint on a network, by container id. */
  containerName(id: string): string | undefined;
  /** Told when a network is created and removed (its embedded DNS server). */
  onUp?(network: NetworkRecord): Promise<void>;
  onDown?(network: NetworkRecord): Promise<void>;
}

/**
 * The /networks API over the network store and the driver: create (IPAM checks: a subnet
 * overlapping another network's is refused), list with Docker's filters, inspect, remove
 * (refused while containers are attached), prune; and the default `bridge` network, made at
 * the first start and rebuilt at every start.
 */
export class NetworkService {
  private builtinIds: Record<string, string> = {};
  /** The networks whose host side this daemon run has set up. */
  private readonly ready = new Set<string>();
  /** Serializes creations and removals, so two creates cannot pick or claim the same subnet. */
  private changing: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: NetworkServiceDeps) {}

  /** Makes the default network when missing and rebuilds every network's host side (idempotent). */
  async restore(): Promise<void> {
    const { store, logger } = this.deps;
    for (const name of ['host', 'none']) this.builtinIds[name] = await store.builtinId(name, newNetworkId);
    if (this.deps.defaultBridge && !store.listNetworks().some((n) => n.isDefault)) await this.createDefault();
    for (const network of store.listNetworks()) {
      if (network.isDefault && !this.deps.defaultBridge) continue;
      // The default bridge is set up when a container first needs it, so a daemon that runs no
      // container on it never changes the host's network (a user network exists because it was asked for).
      if (network.isDefault && store.endpointsOfNetwork(network.Id).length === 0) continue;
      await this.ensureReady(network).catch((err: unknown) => logger.error('cannot set up network', { network: network.Name, error: messageOf(err) }));
    }
  }

  /** The network's host side (bridge, address, rules), set up once per daemon run; idempotent. */
  async ensureReady(network: NetworkRecord): Promise<void> {
    if (this.ready.has(network.Id)) return;
    await this.deps.driver.ensureNetwork(network, this.deps.store.listNetworks());
    this.ready.add(network.Id);
  }

  private async createDefault(): Promise<void> {
    const subnet = pickSubnet([...(await this.deps.hostRoutes()), ...this.takenSubnets()]);
    if (!subnet) throw forbidden('could not find an available, non-overlapping IPv4 address pool for the default bridge network');
    const gateway = formatIPv4(subnet.base + 1);
    await this.deps.store.putNetwork({
      Id: newNetworkId(),
      Name: DEFAULT_NETWORK,
      Driver: 'bridge',
      Created: nowRfc3339(),
      subnet: formatSubnet(subnet),
      gateway,
      ipamConfig: [{ Subnet: formatSubnet(subnet), Gateway: gateway }],
      Internal: false,
      Attachable: false,
      Labels: {},
      Options: {
        'com.docker.network.bridge.default_bridge': 'true',
        'com.docker.network.bridge.enable_icc': 'true',
        'com.docker.network.bridge.enable_ip_masquerade': 'true',
        'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
        'com.docker.network.bridge.name': DEFAULT_BRIDGE,
        'com.docker.network.driver.mtu': '1500',
      },
      bridge: DEFAULT_BRIDGE,
      isDefault: true,
    });
  }

  private takenSubnets(): Subnet[] {
    return this.deps.store.listNetworks().map((n) => parseSubnet(n.subnet));
  }

  /** Networks by full ID, then full name, then unique ID prefix (moby's order); 404 otherwise. */
  find(idOrName: string): NetworkRecord | 'host' | 'none' {
    const found = this.lookup(idOrName);
    if (!found) throw notFound(`network ${idOrName} not found`);
    return found;
  }

  lookup(idOrName: string): NetworkRecord | 'host' | 'none' | undefined {
    const networks = this.visibleNetworks();
    const builtin = (['host', 'none'] as const).find((name) => name === idOrName || this.builtinIds[name] === idOrName);
    if (builtin) return builtin;
    const byId = networks.find((n) => n.Id === idOrName);
    if (byId) return byId;
    const byName = networks.find((n) => n.Name === idOrName);
    if (byName) return byName;
    if (idOrName.length === 0) return undefined;
    const byPrefix = networks.filter((n) => n.Id.startsWith(idOrName));
    const builtinPrefix = (['host', 'none'] as const).filter((name) => this.builtinIds[name]?.startsWith(idOrName));
    if (byPrefix.length + builtinPrefix.length > 1) throw invalidArgument(`network ${idOrName} is ambiguous (${byPrefix.length + builtinPrefix.length} matches found based on ID prefix)`);
    return byPrefix[0] ?? builtinPrefix[0];
  }

  builtinId(name: 'host' | 'none'): string {
    return this.builtinIds[name] ?? '';
  }

  /** The bridge networks in use: the default one only when the daemon has it. */
  visibleNetworks(): NetworkRecord[] {
    return this.deps.store.listNetworks().filter((n) => !n.isDefault || this.deps.defaultBridge);
  }

  async create(request: NetworkCreateRequest): Promise<NetworkCreateResponse> {
    return this.serialized(() => this.createLocked(request));
  }

  private async createLocked(request: NetworkCreateRequest): Promise<NetworkCreateResponse> {
    const name = request.Name ?? '';
    if (!name) throw invalidArgument('network name is required (Name)');
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw invalidArgument(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if ((BUILTIN as readonly string[]).includes(name)) throw forbidden(`operation is not permitted on predefined ${name} network `);
    if (this.visibleNetworks().some((n) => n.Name === name)) throw conflict(`network with name ${name} already exists`);
    const driver = request.Driver || 'bridge';
    if (driver !== 'bridge') throw notFound(`plugin "${driver}" not found`);
    const ipamDriver = request.IPAM?.Driver || 'default';
    if (ipamDriver !== 'default') throw notFound(`plugin "${ipamDriver}" not found`);
    if (request.EnableIPv6) throw invalidArgument('IPv6 networks are not supported by berth yet (EnableIPv6)');
    if (request.Ingress || request.ConfigOnly || request.ConfigFrom?.Network) throw invalidArgument('ingress and config-only networks are swarm features berth does not have');
    const options = { ...(request.Options ?? {}) };
    const bridgeName = options['com.docker.network.bridge.name'];
    if (bridgeName !== undefined && !/^[a-zA-Z0-9_.-]{1,15}$/.test(bridgeName)) throw invalidArgument(`invalid bridge name "${bridgeName}" (com.docker.network.bridge.name): at most 15 letters, digits, '_', '.' or '-'`);
    const mtu = options['com.docker.network.driver.mtu'];
    if (mtu !== undefined && !(/^\d+$/.test(mtu) && Number(mtu) >= 68 && Number(mtu) <= 65535)) throw invalidArgument(`invalid MTU "${mtu}" (com.docker.network.driver.mtu): a number from 68 to 65535`);
    checkBridgeOptions(options);
    const id = newNetworkId();
    const bridge = bridgeName ?? `br-${id.slice(0, 12)}`;
    if (this.deps.store.listNetworks().some((n) => n.bridge === bridge)) throw conflict(`bridge ${bridge} is used by another network`);

    const configs = (request.IPAM?.Config ?? []).filter((c) => c.Subnet || c.Gateway || c.IPRange);
    if (configs.length > 1) throw invalidArgument('berth supports one IPv4 subnet per network (IPAM.Config has several)');
    const config = configs[0];
    let subnet: Subnet;
    let gateway: number;
    let ipRange: Subnet | undefined;
    const taken = this.takenSubnets();
    if (config?.Subnet) {
      subnet = parseSubnet(config.Subnet);
      if (subnet.bits > 30) throw invalidArgument(`invalid subnet ${config.Subnet}: too small for a gateway and a container (a /30 at most)`);
      if (taken.some((t) => overlaps(t, subnet))) throw forbidden('Pool overlaps with other one on this address space');
      ipRange = config.IPRange ? parseSubnet(config.IPRange, 'ip-range') : undefined;
      if (ipRange && !(contains(subnet, ipRange.base) && ipRange.bits >= subnet.bits)) throw invalidArgument(`invalid ip-range ${config.IPRange}: it is not inside subnet ${config.Subnet}`);
      if (config.Gateway) {
        const parsed = parseIPv4(config.Gateway);
        if (parsed === undefined) throw invalidArgument(`invalid gateway address ${config.Gateway}: not an IPv4 address`);
        if (!contains(subnet, parsed) || parsed === subnet.base) throw invalidArgument(`failed to allocate gateway (${config.Gateway}): Requested address is out of range of subnet ${config.Subnet}`);
        gateway = parsed;
      } else {
        // dockerd's IPAM takes the gateway from the ip-range when there is one: its first
        // address (unless that is the subnet's own), so containers get the ones after it.
        const first = firstFreeAddress(subnet, ipRange ?? subnet, new Set());
        if (first === undefined) throw invalidArgument(`invalid ip-range ${config.IPRange ?? ''}: it holds no host address of subnet ${config.Subnet}`);
        gateway = first;
      }
    } else {
      if (config?.Gateway || config?.IPRange) throw invalidArgument('a gateway or ip-range needs a subnet (--subnet)');
      const picked = pickSubnet([...(await this.deps.hostRoutes()), ...taken]);
      if (!picked) throw forbidden('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
      subnet = picked;
      gateway = subnet.base + 1;
    }
    const record: NetworkRecord = {
      Id: id,
      Name: name,
      Driver: 'bridge',
      Created: nowRfc3339(),
      subnet: formatSubnet(subnet),
      gateway: formatIPv4(gateway),
      ...(ipRange ? { ipRange: formatSubnet(ipRange) } : {}),
      // As dockerd shows them: what was given; a picked subnet with its gateway.
      ipamConfig: config?.Subnet
        ? [{ Subnet: config.Subnet, ...(config.IPRange ? { IPRange: config.IPRange } : {}), ...(config.Gateway ? { Gateway: config.Gateway } : {}) }]
        : [{ Subnet: formatSubnet(subnet), Gateway: formatIPv4(gateway) }],
      Internal: Boolean(request.Internal),
      Attachable: Boolean(request.Attachable),
      Labels: { ...(request.Labels ?? {}) },
      Options: options,
      bridge,
    };
    await this.deps.store.putNetwork(record);
    try {
      await this.ensureReady(record);
    } catch (err) {
      // Nothing half-made stays: the bridge and rules go, then the record.
      await this.deps.driver.removeNetwork(record, []).catch(() => undefined);
      await this.deps.store.deleteNetwork(id);
      throw err;
    }
    await this.deps.onUp?.(record);
    this.deps.events.publish('network', 'create', id, { name, type: 'bridge' });
    return { Id: id, Warning: '' };
  }

  async remove(idOrName: string): Promise<void> {
    return this.serialized(async () => {
      const network = this.find(idOrName);
      if (typeof network === 'string' || network.isDefault) {
        throw forbidden(`${typeof network === 'string' ? network : network.Name} is a pre-defined network and cannot be removed`);
      }
      await this.removeLocked(network);
    });
  }

  private async removeLocked(network: NetworkRecord): Promise<void> {
    if (this.deps.store.endpointsOfNetwork(network.Id).length > 0) {
      throw forbidden(`error while removing network: network ${network.Name} id ${network.Id} has active endpoints`);
    }
    // The record goes first: a crash before the bridge and rules are gone leaves them to the
    // sweep at the next start, never a network that is half there.
    await this.deps.store.deleteNetwork(network.Id);
    this.ready.delete(network.Id);
    await this.deps.onDown?.(network);
    await this.deps.driver.removeNetwork(network, this.deps.store.listNetworks()).catch((err: unknown) => this.deps.logger.warn('cannot remove network bridge or rules; the next start sweeps them', { network: network.Name, error: messageOf(err) }));
    this.deps.events.publish('network', 'destroy', network.Id, { name: network.Name, type: 'bridge' });
  }

  async prune(filters: Filters): Promise<NetworksPruneResponse> {
    for (const key of Object.keys(filters)) {
      if (!['label', 'label!', 'until'].includes(key)) throw invalidArgument(`invalid filter '${key}'`);
    }
    const until = filters.until?.[0] === undefined ? undefined : parseUntil(filters.until[0]);
    return this.serialized(async () => {
      const deleted: string[] = [];
      for (const network of this.visibleNetworks()) {
        if (network.isDefault || this.deps.store.endpointsOfNetwork(network.Id).length > 0) continue;
        if (until !== undefined && Date.parse(network.Created) >= until) continue;
        if (!matchesLabels(network.Labels, filters.label ?? [], filters['label!'] ?? [])) continue;
        await this.removeLocked(network);
        deleted.push(network.Name);
      }
      return { NetworksDeleted: deleted.length > 0 ? deleted : null };
    });
  }

  list(filters: Filters): NetworkResource[] {
    for (const key of Object.keys(filters)) {
      if (!['driver', 'id', 'label', 'name', 'scope', 'type', 'dangling'].includes(key)) throw invalidArgument(`invalid filter '${key}'`);
    }
    for (const type of filters.type ?? []) {
      if (type !== 'custom' && type !== 'builtin') throw invalidArgument(`invalid filter: 'type'='${type}'`);
    }
    for (const dangling of filters.dangling ?? []) {
      if (!['true', 'false', '1', '0'].includes(dangling)) throw invalidArgument(`invalid filter 'dangling=${dangling}'`);
    }
    const all = [...this.visibleNetworks().map((n) => this.resource(n)), this.builtinResource('host'), this.builtinResource('none')];
    return all.filter((n) => {
      const builtin = ['bridge', 'host', 'none'].includes(n.Name) && (n.Name !== 'bridge' || n.Options['com.docker.network.bridge.default_bridge'] === 'true');
      if (filters.driver && !filters.driver.includes(n.Driver)) return false;
      if (filters.id && !filters.id.some((id) => n.Id.startsWith(id))) return false;
      if (filters.name && !filters.name.some((name) => n.Name.includes(name))) return false;
      if (filters.scope && !filters.scope.includes(n.Scope)) return false;
      if (filters.type && !filters.type.includes(builtin ? 'builtin' : 'custom')) return false;
      if (filters.dangling) {
        const wantDangling = ['true', '1'].includes(filters.dangling[0]!);
        const dangling = !builtin && Object.keys(n.Containers).length === 0;
        if (dangling !== wantDangling) return false;
      }
      return matchesLabels(n.Labels, filters.label ?? [], []);
    });
  }

  inspect(idOrName: string): NetworkResource {
    const network = this.find(idOrName);
    return typeof network === 'string' ? this.builtinResource(network) : this.resource(network);
  }

  private resource(network: NetworkRecord): NetworkResource {
    const containers: NetworkResource['Containers'] = {};
    for (const endpoint of this.deps.store.endpointsOfNetwork(network.Id)) {
      containers[endpoint.ContainerID] = {
        Name: (this.deps.containerName(endpoint.ContainerID) ?? '').replace(/^\//, ''),
        EndpointID: endpoint.EndpointID,
        MacAddress: endpoint.MacAddress,
        IPv4Address: `${endpoint.IPAddress}/${endpoint.IPPrefixLen}`,
        IPv6Address: '',
      };
    }
    return {
      Name: network.Name,
      Id: network.Id,
      Created: network.Created,
      Scope: 'local',
      Driver: network.Driver,
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: network.isDefault ? null : {}, Config: network.ipamConfig },
      Internal: network.Internal,
      Attachable: network.Attachable,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: containers,
      Options: network.Options,
      Labels: network.Labels,
    };
  }

  private builtinResource(name: 'host' | 'none'): NetworkResource {
    return {
      Name: name,
      Id: this.builtinIds[name] ?? '',
      Created: '0001-01-01T00:00:00Z',
      Scope: 'local',
      Driver: name === 'host' ? 'host' : 'null',
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: null, Config: [] },
      Internal: false,
      Attachable: false,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: {},
      Options: {},
      Labels: {},
    };
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.changing.then(fn, fn);
    this.changing = next.catch(() => undefined);
    return next;
  }
}

export function newNetworkId(): string {
  return createHash('sha256').update(randomBytes(32)).digest('hex');
}

function matchesLabels(labels: Record<string, string>, wanted: string[], unwanted: string[]): boolean {
  const has = (filter: string) => {
    const eq = filter.indexOf('=');
    return eq < 0 ? filter in labels : labels[filter.slice(0, eq)] === filter.slice(eq + 1);
  };
  return wanted.every(has) && !unwanted.some(has);
}

/** `until`: a Unix timestamp, an RFC 3339 time, or a duration before now (10m, 24h). */
function parseUntil(text: string): number {
  const duration = /^(\d+(?:\.\d+)?)(s|m|h)$/.exec(text);
  if (duration) return Date.now() - Number(duration[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[duration[2] as 's' | 'm' | 'h'];
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const parsed = Date.parse(text);
  if (Number.isNaN(parsed)) throw invalidArgument(`invalid filter 'until=${text}': not a timestamp or a duration`);
  return parsed;
}

const GO_BOOLS = ['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False'];

/** The bridge driver's options berth applies (firewall.ts, port publishing), checked with dockerd's messages (a 400 here; dockerd answers 500). */
function checkBridgeOptions(options: Record<string, string>): void {
  for (const key of ['com.docker.network.bridge.enable_icc', 'com.docker.network.bridge.enable_ip_masquerade']) {
    const value = options[key];
    if (value !== undefined && !GO_BOOLS.includes(value)) throw invalidArgument(`failed to parse ${key} value: ${value} (strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax)`);
  }
  const hostIp = options['com.docker.network.bridge.host_binding_ipv4'];
  if (hostIp !== undefined && parseIPv4(hostIp) === undefined) throw invalidArgument(`failed to parse com.docker.network.bridge.host_binding_ipv4 value: ${hostIp} (nil ip)`);
}
