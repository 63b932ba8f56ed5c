import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { conflict, forbidden, invalidArgument, messageOf, notFound } from '../../errors';
import type { EndpointSettings, NetworkConnectRequest, NetworkDisconnectRequest } from '../../api/types/networks';
import type { ContainerRecord, StoredEndpointConfig } from '../../metadata/containers';
import { isLive } from '../../metadata/containers';
import type { NetworkHook } from '../../runtime/task/types';
import type { NetworkStore } from '../../network/store';
import type { Sandboxes } from '../../network/sandbox';
import type { EndpointRecord, NetworkDriver, NetworkRecord, SandboxJoin } from '../../network/types';
import { newHostIfname } from '../../network/bridge/bridge-driver';
import { deleteBridge, listBridges } from '../../network/bridge/steps';
import { addPortRules, portRules, removePortRules, sweepForeignRules, sweepPortRules } from '../../network/bridge/firewall';
import { type PortMapping, portMap, portRequests } from '../../network/ports/port-specs';
import { PortProxy } from '../../network/ports/proxy';
import { EmbeddedDns } from '../../network/dns/embedded-dns';
import { contains, firstFreeAddress, formatIPv4, macForAddress, parseIPv4, parseSubnet } from '../../network/ipam/subnets';
import type { Logger } from '../../util/logger';
import { readHostResolvConf } from '../../runtime/etc-files';
import type { EventBus } from '../events/event-bus';
import { DEFAULT_NETWORK, type NetworkService } from './network-service';
import { type LinkSpec, linkEnv, linkHostEntry, parseLink } from './legacy-links';
import { emptyEndpoint } from './empty-endpoint';

type Bindings = Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null;
type Record_ = ContainerRecord<{ Hostname?: string; ExposedPorts?: Record<string, unknown> | null; Env?: string[] | null }, { NetworkMode?: string; PortBindings?: Bindings; PublishAllPorts?: boolean; Dns?: string[] | null; Links?: string[] | null }>;

/** What networking needs of the containers (given by the daemon: the container service). */
export interface NetworkContainers {
  /** The container by id or name; 404 "No such container" otherwise. */
  get(ref: string): Record_;
  find(id: string): Record_ | undefined;
  list(): readonly Record_[];
  /** Runs `fn` under the container's lock on a fresh copy; `save` stores the changed copy. */
  withLocked<T>(ref: string, fn: (container: Record_, save: () => Promise<void>) => Promise<T>): Promise<T>;
}

export interface ContainerNetworkingDeps {
  networks: NetworkService;
  store: NetworkStore;
  driver: NetworkDriver;
  sandboxes: Sandboxes;
  events: EventBus;
  logger: Logger;
  defaultBridge: boolean;
  /** The owner mark on this daemon's bridges (BridgeDriver.owner): the start-up sweep removes only those. */
  bridgeOwner: string;
  containers(): NetworkContainers;
}

/** The network mode of a container, as moby's container.NetworkMode reads it. */
export type NetworkMode = { kind: 'default' } | { kind: 'host' } | { kind: 'none' } | { kind: 'container'; ref: string } | { kind: 'network'; name: string };

export function parseNetworkMode(mode: string | undefined): NetworkMode {
  if (!mode || mode === 'default' || mode === DEFAULT_NETWORK) return { kind: 'default' };
  if (mode === 'host' || mode === 'none') return { kind: mode };
  if (mode.startsWith('container:')) {
    const ref = mode.slice('container:'.length);
    if (!ref) throw invalidArgument('invalid network mode: container: needs a container name or ID');
    return { kind: 'container', ref };
  }
  return { kind: 'network', name: mode };
}

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/**
 * A container's side of networking: which networks create records (checked: unknown networks
 * are a 404, aliases and static addresses only on user networks), the sandbox and endpoints
 * set up at start (the NetworkHook hands the sandbox's netns path to the spec) and removed
 * when the task is deleted, connect/disconnect (also while running), inspect's
 * NetworkSettings, and the sweep at daemon start that removes what a crash left.
 */
export class ContainerNetworking implements NetworkHook {
  /** The listeners holding each running container's published ports (src/network/ports/proxy.ts). */
  private readonly proxies = new Map<string, PortProxy[]>();
  /** The embedded DNS server of each user-defined network, by network ID. */
  private readonly dns = new Map<string, EmbeddedDns>();
  /** Veth deletions in flight (release), by `<network ID>/<address>`. */
  private readonly leaving = new Map<string, Promise<void>>();

  constructor(private readonly deps: ContainerNetworkingDeps) {}

  /** Checks create's port settings (a bad port or address is a 400 at create, not at start). */
  checkPorts(host: { PortBindings?: Bindings; PublishAllPorts?: boolean }): void {
    portRequests(host.PortBindings, host.PublishAllPorts, undefined);
  }

  /**
   * The address `--add-host name:host-gateway` stands for: the default bridge's gateway, as
   * dockerd's HostGatewayIP (containers on user networks reach it too, it is the host's);
   * without a default bridge (`--bridge none`), the gateway of the container's first network.
   */
  hostGateway(container: { Networks?: Record<string, StoredEndpointConfig> }): string | undefined {
    const defaultNetwork = this.deps.networks.visibleNetworks().find((n) => n.isDefault);
    if (defaultNetwork) return defaultNetwork.gateway;
    for (const config of Object.values(container.Networks ?? {})) {
      const network = this.deps.store.network(config.NetworkID);
      if (network) return network.gateway;
    }
    return undefined;
  }

  /**
   * Checks create's legacy links (`--link name[:alias]`) as dockerd's registerLinks: each target
   * exists (400), and neither side uses the host's network or another container's.
   */
  checkLinks(host: { NetworkMode?: string; Links?: string[] | null }): LinkSpec[] {
    const links = (host.Links ?? []).map(parseLink);
    if (links.length === 0) return [];
    const kind = parseNetworkMode(host.NetworkMode).kind;
    if (kind === 'host') throw invalidArgument("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
    if (kind === 'container') throw invalidArgument("conflicting options: container type network can't be used with links. This would result in undefined behavior");
    for (const link of links) {
      const target = this.deps.containers().find(link.target);
      // A 400, not a 404, as dockerd (moby#39823): the docker CLI answers a 404 from create by pulling the image.
      if (!target) throw invalidArgument(`could not get container for ${link.target}: No such container: ${link.target}`);
      if (parseNetworkMode(target.HostConfig.NetworkMode).kind === 'host') throw invalidArgument("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
    }
    return links;
  }

  /**
   * At start, a container's links on the default bridge (moby's legacy links): an /etc/hosts
   * entry and the <ALIAS>_* variables for each. Each target must be running there. On a user
   * network a link is an alias its embedded DNS answers instead (namesFor), as in Docker.
   */
  linksFor(container: Record_): { hosts: Array<{ host: string; ip: string }>; env: string[] } {
    const links = (container.HostConfig.Links ?? []).map(parseLink);
    const defaultNetwork = this.deps.networks.visibleNetworks().find((n) => n.isDefault);
    if (links.length === 0 || parseNetworkMode(container.HostConfig.NetworkMode).kind !== 'default' || !defaultNetwork) return { hosts: [], env: [] };
    const name = container.Name.replace(/^\//, '');
    const hosts: Array<{ host: string; ip: string }> = [];
    const env: string[] = [];
    for (const link of links) {
      const target = this.deps.containers().find(link.target);
      if (!target || !isLive(target)) throw new Error(`Cannot link to a non running container: /${link.target} AS /${name}/${link.alias}`);
      const endpoint = this.deps.store.endpointsOfContainer(target.Id).find((e) => e.NetworkID === defaultNetwork.Id);
      if (!endpoint) throw invalidArgument(`Cannot link to /${link.target}, as it does not belong to the default network`);
      const linked = { alias: link.alias, name: target.Name.replace(/^\//, ''), hostname: target.Config.Hostname || target.Id.slice(0, 12), ip: endpoint.IPAddress, env: target.Config.Env ?? [], exposedPorts: Object.keys(target.Config.ExposedPorts ?? {}) };
      hosts.push(linkHostEntry(linked));
      env.push(...linkEnv(linked, name));
    }
    return { hosts, env };
  }

  /** Checks create's network settings; the networks to record (name → settings). */
  planForCreate(networkMode: string | undefined, endpointsConfig: Record<string, EndpointSettings | null> | undefined, configMacAddress?: string): Record<string, StoredEndpointConfig> | undefined {
    const mode = parseNetworkMode(networkMode);
    const requested = Object.entries(endpointsConfig ?? {});
    if (mode.kind === 'container') this.deps.containers().get(mode.ref);
    if (mode.kind === 'host' || mode.kind === 'none' || mode.kind === 'container') {
      if (requested.some(([name]) => name !== mode.kind && name !== networkMode)) {
        throw invalidArgument(`container cannot be connected to multiple networks with one of the networks in ${mode.kind === 'none' ? 'private (none)' : mode.kind} mode`);
      }
      return undefined;
    }
    if (mode.kind === 'default' && !this.deps.defaultBridge) return undefined;
    const primary = mode.kind === 'default' ? DEFAULT_NETWORK : mode.name;
    const plan: Record<string, StoredEndpointConfig> = {};
    // The docker CLI keys the primary network's settings by the mode as given ("default", a name or an ID).
    const isPrimary = (key: string) => key === primary || key === networkMode || (mode.kind === 'default' && key === 'default');
    const primarySettings = requested.find(([key]) => isPrimary(key))?.[1] ?? undefined;
    // Config.MacAddress (API < 1.44, docker CLI 20.10) is the primary endpoint's.
    const withMac = configMacAddress && !primarySettings?.MacAddress ? { ...(primarySettings ?? {}), MacAddress: configMacAddress } : primarySettings;
    const add = (name: string, settings: EndpointSettings | undefined) => {
      const network = this.bridgeNetwork(name);
      const key = network?.Name ?? name;
      if (!(key in plan)) plan[key] = network ? this.endpointConfig(network, settings) : this.unresolvedEndpointConfig(settings);
    };
    add(primary, withMac);
    for (const [name, settings] of requested) if (!isPrimary(name)) add(name, settings ?? undefined);
    return plan;
  }

  /**
   * A bridge network by ID or name; undefined when there is none by that name (yet): dockerd
   * creates the container and refuses its start with a 404, and a 404 from create would make
   * the docker CLI pull the image (moby's validateNetworkingConfig ignores unknown networks).
   * host/none cannot be combined with others.
   */
  private bridgeNetwork(idOrName: string): NetworkRecord | undefined {
    const network = this.deps.networks.lookup(idOrName);
    if (typeof network === 'string') throw invalidArgument(`container cannot be connected to multiple networks with one of the networks in ${network === 'none' ? 'private (none)' : network} mode`);
    return network;
  }

  /** The settings for a network not there at create, kept by its name; start looks it up (404 then). */
  private unresolvedEndpointConfig(settings: EndpointSettings | undefined): StoredEndpointConfig {
    const aliases = (settings?.Aliases ?? []).filter((a) => a);
    const ip = settings?.IPAMConfig?.IPv4Address || undefined;
    const mac = settings?.MacAddress || undefined;
    if (ip !== undefined && parseIPv4(ip) === undefined) throw invalidArgument(`invalid IPv4 address: ${ip}`);
    if (mac !== undefined && !MAC.test(mac)) throw invalidArgument(`invalid MAC address: ${mac}`);
    return {
      NetworkID: '',
      ...(aliases.length > 0 ? { Aliases: aliases } : {}),
      ...(ip ? { IPAMConfig: { IPv4Address: ip } } : {}),
      ...(mac ? { MacAddress: mac } : {}),
      ...(settings?.DriverOpts ? { DriverOpts: settings.DriverOpts } : {}),
    };
  }

  private endpointConfig(network: NetworkRecord, settings: EndpointSettings | undefined): StoredEndpointConfig {
    const aliases = (settings?.Aliases ?? []).filter((a) => a);
    const ip = settings?.IPAMConfig?.IPv4Address || undefined;
    const mac = settings?.MacAddress || undefined;
    if (network.isDefault && aliases.length > 0) throw invalidArgument('network-scoped alias is supported only for containers in user defined networks');
    if (network.isDefault && ip) throw invalidArgument('user specified IP address is supported on user defined networks only');
    if (ip !== undefined) {
      const address = parseIPv4(ip);
      if (address === undefined) throw invalidArgument(`invalid IPv4 address: ${ip}`);
      if (!contains(parseSubnet(network.subnet), address)) throw invalidArgument(`Invalid address ${ip}: It does not belong to any of this network's subnets`);
    }
    if (settings?.IPAMConfig?.IPv6Address) throw invalidArgument('IPv6 addresses are not supported by berth yet');
    if (mac !== undefined && !MAC.test(mac)) throw invalidArgument(`invalid MAC address: ${mac}`);
    return {
      NetworkID: network.Id,
      ...(aliases.length > 0 ? { Aliases: aliases } : {}),
      ...(ip ? { IPAMConfig: { IPv4Address: ip } } : {}),
      ...(mac ? { MacAddress: mac } : {}),
      ...(settings?.DriverOpts ? { DriverOpts: settings.DriverOpts } : {}),
    };
  }

  /**
   * Sets up the container's sandbox and its endpoints, before its task is created; a failure
   * leaves nothing behind. The addresses, for its /etc/hosts.
   */
  async attach(container: Record_): Promise<{ addresses: string[]; nameserver?: string }> {
    const networks = Object.entries(container.Networks ?? {});
    const mode = parseNetworkMode(container.HostConfig.NetworkMode);
    if (networks.length === 0 || mode.kind === 'host' || mode.kind === 'none' || mode.kind === 'container') return { addresses: [] };
    if (mode.kind === 'default' && !this.deps.defaultBridge) return { addresses: [] };
    let nameserver: string | undefined;
    const started = performance.now();
    await this.release(container.Id);
    const joins: SandboxJoin[] = [];
    const ms: Record<string, number> = {};
    const lap = (step: string) => (ms[step] = Math.round((performance.now() - started) * 10) / 10);
    lap('released');
    try {
      const saved: Array<Promise<void>> = [];
      for (const [index, [name, config]] of networks.entries()) {
        const network = this.deps.store.network(config.NetworkID) ?? this.deps.networks.visibleNetworks().find((n) => n.Name === name);
        if (!network || (network.isDefault && !this.deps.defaultBridge)) throw notFound(`network ${name} not found`);
        // A network named at create before it existed: its ID from now on (kept with the running state, as dockerd's).
        if (!config.NetworkID) config.NetworkID = network.Id;
        await this.deps.networks.ensureReady(network);
        await this.leftAddresses(network, config);
        // Allocated and recorded at once (putEndpoint takes it synchronously): no two starts get the same address.
        const endpoint = this.allocate(container, network, config, `eth${index}`);
        const save = this.deps.store.putEndpoint(endpoint);
        save.catch(() => undefined); // awaited below; not unhandled if a spawn fails first
        saved.push(save);
        joins.push({ network, endpoint, defaultRoute: index === 0 });
        // The first user-defined network's embedded DNS answers the container's queries.
        if (nameserver === undefined && this.dns.has(network.Id)) nameserver = network.gateway;
      }
      lap('allocated');
      // The namespace with every interface in it, the host ends on their bridges: no process.
      await this.deps.sandboxes.create(container.Id, this.deps.driver.sandboxLinks(joins));
      lap('sandbox');
      await Promise.all(saved);
      lap('saved');
      if (joins[0]) await this.publish(container, joins[0].network, joins[0].endpoint);
      lap('published');
      this.deps.logger.debug('network attached', { id: container.Id, ms });
    } catch (err) {
      await this.release(container.Id);
      throw err;
    }
    return { addresses: joins.map((j) => j.endpoint.IPAddress), ...(nameserver ? { nameserver } : {}) };
  }

  // ---- embedded DNS ------------------------------------------------------------------------

  /** Starts the DNS server of every user-defined network (daemon start). */
  async startDns(): Promise<void> {
    for (const network of this.deps.networks.visibleNetworks()) await this.networkUp(network);
  }

  /** A network is there: its DNS server on its gateway address (user-defined networks only, as in Docker). */
  async networkUp(network: NetworkRecord): Promise<void> {
    if (network.isDefault || this.dns.has(network.Id)) return;
    try {
      const hostResolvers = await this.upstreams();
      this.dns.set(
        network.Id,
        await EmbeddedDns.open(network.gateway, parseSubnet(network.subnet), {
          addresses: (name, client) => this.namesFor(network, name, client),
          reverse: (address, client) => this.reverseFor(network, address, client),
          upstreams: (client) => this.clientDns(network, client) ?? hostResolvers,
        }),
      );
    } catch (err) {
      this.deps.logger.warn('cannot start the embedded DNS server of a network; its containers resolve through the host only', { network: network.Name, error: messageOf(err) });
    }
  }

  async networkDown(network: NetworkRecord): Promise<void> {
    await this.dns.get(network.Id)?.close();
    this.dns.delete(network.Id);
  }

  /** The user-defined networks a client on `network` resolves names on: that one first, then its container's others. */
  private clientNetworks(network: NetworkRecord, client: string): NetworkRecord[] {
    const networks = [network];
    const asking = this.deps.store.endpointsOfNetwork(network.Id).find((e) => e.IPAddress === client);
    if (!asking) return networks;
    for (const endpoint of this.deps.store.endpointsOfContainer(asking.ContainerID)) {
      const other = endpoint.NetworkID !== network.Id ? this.deps.store.network(endpoint.NetworkID) : undefined;
      if (other && !other.isDefault) networks.push(other);
    }
    return networks;
  }

  /**
   * A name as a client on `network` resolves it, as dockerd's sandbox.ResolveName: the name on
   * the client's networks (that network's first), then `<name>.<network>` split at each dot
   * from the right (network names may hold dots too).
   */
  private namesFor(network: NetworkRecord, name: string, client: string): string[] {
    const networks = this.clientNetworks(network, client);
    for (const candidate of networks) {
      const found = this.addressesOf(candidate, name);
      if (found.length > 0) return found;
    }
    // A legacy link's alias on a user network names its target there (dockerd's links on user networks).
    const asking = this.deps.store.endpointsOfNetwork(network.Id).find((e) => e.IPAddress === client);
    const link = asking ? (this.deps.containers().find(asking.ContainerID)?.HostConfig.Links ?? []).map(parseLink).find((l) => l.alias.toLowerCase() === name) : undefined;
    if (link) {
      const target = this.deps.containers().find(link.target);
      for (const candidate of target ? networks : []) {
        const found = this.addressesOf(candidate, target!.Name.replace(/^\//, '').toLowerCase());
        if (found.length > 0) return found;
      }
    }
    for (let dot = name.lastIndexOf('.'); dot > 0; dot = name.lastIndexOf('.', dot - 1)) {
      const networkName = name.slice(dot + 1);
      const on = networks.find((n) => n.Name.toLowerCase() === networkName);
      const found = on ? this.addressesOf(on, name.slice(0, dot)) : [];
      if (found.length > 0) return found;
    }
    return [];
  }

  /** The `<container>.<network>` name of an address on the client's networks, as dockerd's ResolveIP. */
  private reverseFor(network: NetworkRecord, address: string, client: string): { name?: string; ownSubnet: boolean } {
    const parsed = parseIPv4(address);
    let ownSubnet = false;
    for (const candidate of this.clientNetworks(network, client)) {
      if (parsed !== undefined && contains(parseSubnet(candidate.subnet), parsed)) ownSubnet = true;
      const endpoint = this.deps.store.endpointsOfNetwork(candidate.Id).find((e) => e.IPAddress === address);
      const container = endpoint ? this.deps.containers().find(endpoint.ContainerID) : undefined;
      if (container) return { name: `${container.Name.replace(/^\//, '')}.${candidate.Name}`, ownSubnet: true };
    }
    return { ownSubnet };
  }

  /** The addresses a name has on a network: container names, network aliases and short IDs of its running containers. */
  private addressesOf(network: NetworkRecord, name: string): string[] {
    const addresses: string[] = [];
    for (const endpoint of this.deps.store.endpointsOfNetwork(network.Id)) {
      const container = this.deps.containers().find(endpoint.ContainerID);
      if (!container) continue;
      const names = [container.Name.replace(/^\//, ''), container.Id.slice(0, 12), ...(container.Networks?.[network.Name]?.Aliases ?? [])];
      if (names.some((n) => n.toLowerCase() === name)) addresses.push(endpoint.IPAddress);
    }
    return addresses;
  }

  /** A client container's `--dns` servers (dockerd's embedded resolver forwards to them, not the host's). */
  private clientDns(network: NetworkRecord, client: string): string[] | undefined {
    const endpoint = this.deps.store.endpointsOfNetwork(network.Id).find((e) => e.IPAddress === client);
    const dns = endpoint ? this.deps.containers().find(endpoint.ContainerID)?.HostConfig.Dns : undefined;
    return dns?.length ? dns : undefined;
  }

  /** The host's resolvers (not loopback ones: they would be berth's own namespace). */
  private async upstreams(): Promise<string[]> {
    const text = await readHostResolvConf().catch(() => '');
    return text
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f[0] === 'nameserver' && f[1] && !/^127\./.test(f[1]) && f[1] !== '::1')
      .map((f) => f[1]!);
  }

  private async join(container: Record_, network: NetworkRecord, config: StoredEndpointConfig, netnsPath: string, ifname: string, defaultRoute: boolean): Promise<EndpointRecord> {
    await this.leftAddresses(network, config);
    const endpoint = this.allocate(container, network, config, ifname);
    await this.deps.store.putEndpoint(endpoint);
    try {
      await this.deps.driver.join(network, endpoint, netnsPath, defaultRoute);
    } catch (err) {
      await this.deps.store.deleteEndpoints([endpoint.EndpointID]);
      throw err;
    }
    return endpoint;
  }

  /**
   * Publishes the container's ports through its first endpoint: a listener holding each host
   * port (a port taken by berth or another process is a 409), then DNAT and forward rules in
   * berth's chains; the mappings are saved with the endpoint, so a restart can rebuild them.
   */
  private async publish(container: Record_, network: NetworkRecord, endpoint: EndpointRecord): Promise<void> {
    const requests = portRequests(container.HostConfig.PortBindings, container.HostConfig.PublishAllPorts, container.Config.ExposedPorts ?? {}, network.Options['com.docker.network.bridge.host_binding_ipv4']);
    if (requests.length === 0) return;
    const taken = new Set(this.deps.store.listEndpoints().flatMap((e) => (e.ports ?? []).map((p) => `${p.proto}/${p.hostPort}`)));
    const proxies: PortProxy[] = [];
    this.proxies.set(container.Id, proxies);
    for (const request of requests) {
      const proxy = await PortProxy.open(request, { ip: endpoint.IPAddress, port: request.containerPort }, taken);
      proxies.push(proxy);
      taken.add(`${request.proto}/${proxy.mapping.hostPort}`);
    }
    endpoint.ports = proxies.map((p) => p.mapping);
    await this.deps.store.putEndpoint(endpoint);
    await addPortRules(endpoint.ports.flatMap((m) => portRules(network.bridge, endpoint.IPAddress, m)));
  }

  /** Closes a container's port listeners and removes its port rules. */
  private async unpublish(id: string, endpoints: readonly EndpointRecord[]): Promise<void> {
    for (const proxy of this.proxies.get(id) ?? []) await proxy.close().catch(() => undefined);
    this.proxies.delete(id);
    for (const endpoint of endpoints) {
      const network = this.deps.store.network(endpoint.NetworkID);
      if (!network || !endpoint.ports?.length) continue;
      await removePortRules(endpoint.ports.flatMap((m) => portRules(network.bridge, endpoint.IPAddress, m))).catch((err: unknown) => this.deps.logger.warn('cannot remove port rules; the next start sweeps them', { id, error: messageOf(err) }));
    }
  }

  /** Picks the address (the one asked for, or the lowest free one) synchronously: no two joins get the same. */
  private allocate(container: Record_, network: NetworkRecord, config: StoredEndpointConfig, ifname: string): EndpointRecord {
    const subnet = parseSubnet(network.subnet);
    // Addresses whose veth is still going (release) are not free yet: a new container with the
    // same address (and MAC) would compete with the old port on the bridge.
    const used = new Set<number>([parseIPv4(network.gateway)!, ...this.leavingAddresses(network.Id).map((a) => parseIPv4(a)!)]);
    for (const endpoint of this.deps.store.endpointsOfNetwork(network.Id)) used.add(parseIPv4(endpoint.IPAddress)!);
    let address: number | undefined;
    const wanted = config.IPAMConfig?.IPv4Address;
    if (wanted) {
      address = parseIPv4(wanted);
      if (address === undefined || !contains(subnet, address)) throw invalidArgument(`Invalid address ${wanted}: It does not belong to any of this network's subnets`);
      if (used.has(address)) throw forbidden(`Address already in use: ${wanted} on network ${network.Name}`);
    } else {
      address = firstFreeAddress(subnet, network.ipRange ? parseSubnet(network.ipRange) : subnet, used);
      if (address === undefined) throw forbidden(`no available IPv4 addresses on network ${network.Name}: all of ${network.ipRange ?? network.subnet} are in use`);
    }
    return {
      EndpointID: randomBytes(32).toString('hex'),
      NetworkID: network.Id,
      ContainerID: container.Id,
      ifname,
      hostIfname: newHostIfname(),
      IPAddress: formatIPv4(address),
      IPPrefixLen: subnet.bits,
      Gateway: network.gateway,
      MacAddress: config.MacAddress ?? macForAddress(address),
    };
  }

  // ---- NetworkHook: the runtime asks between create and start, and on delete ----------

  async prepare(request: { id: string }): Promise<{ netnsPath?: string }> {
    const container = this.deps.containers().find(request.id);
    if (!container) return {};
    const mode = parseNetworkMode(container.HostConfig.NetworkMode);
    if (mode.kind === 'container') {
      const target = this.deps.containers().get(mode.ref);
      if (!isLive(target) || target.State.Pid <= 0) throw conflict(`cannot join network of a non running container: ${mode.ref}`);
      const sandbox = this.deps.sandboxes.path(target.Id);
      const hasSandbox = await fs.stat(sandbox).then(() => this.deps.store.endpointsOfContainer(target.Id).length > 0, () => false);
      return { netnsPath: hasSandbox ? sandbox : `/proc/${target.State.Pid}/ns/net` };
    }
    if (this.deps.store.endpointsOfContainer(request.id).length > 0) return { netnsPath: this.deps.sandboxes.path(request.id) };
    return {};
  }

  /**
   * Removes the container's endpoints and its sandbox; idempotent. The veths are deleted in
   * the background (the kernel's unregister waits for an RCU grace period, ~20 ms each): their
   * addresses are not handed out again until they are gone (leaving), and a crash meanwhile
   * leaves a veth no endpoint owns, which the start-up sweep deletes.
   */
  async release(id: string): Promise<void> {
    const started = performance.now();
    const endpoints = this.deps.store.endpointsOfContainer(id);
    await this.unpublish(id, endpoints);
    await this.deps.sandboxes.remove(id);
    for (const endpoint of endpoints) this.leaveInBackground(endpoint);
    // Gone from memory at once (the addresses are free for the next start); the file follows in
    // the background, in order with later saves. A crash before it is written leaves endpoints
    // of a container that is gone, which restore() releases.
    this.deps.store.deleteEndpoints(endpoints.map((e) => e.EndpointID)).catch((err: unknown) => this.deps.logger.warn('cannot save the endpoints file; restore sweeps what it still lists', { id, error: messageOf(err) }));
    if (endpoints.length > 0) this.deps.logger.debug('network released', { id, ms: Math.round((performance.now() - started) * 10) / 10 });
  }

  private leaveInBackground(endpoint: EndpointRecord): void {
    const key = `${endpoint.NetworkID}/${endpoint.IPAddress}`;
    const done: Promise<void> = this.deps.driver
      .leave(endpoint)
      .catch((err: unknown) => this.deps.logger.warn('cannot remove a container interface', { id: endpoint.ContainerID, error: messageOf(err) }))
      .finally(() => {
        if (this.leaving.get(key) === done) this.leaving.delete(key);
      });
    this.leaving.set(key, done);
  }

  /** The network's addresses whose veth is still being deleted (release). */
  private leavingAddresses(networkId: string): string[] {
    const prefix = `${networkId}/`;
    return [...this.leaving.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  }

  /**
   * Before allocating on `network`: waits for the deletion of the veth holding the address
   * asked for, or of all of them when they are the only addresses left (a small --ip-range).
   */
  private async leftAddresses(network: NetworkRecord, config: StoredEndpointConfig): Promise<void> {
    const leaving = this.leavingAddresses(network.Id);
    if (leaving.length === 0) return;
    const wanted = config.IPAMConfig?.IPv4Address;
    const wait = (addresses: string[]) => Promise.all(addresses.map((a) => this.leaving.get(`${network.Id}/${a}`)));
    if (wanted) {
      if (leaving.includes(wanted)) await wait([wanted]);
      return;
    }
    const subnet = parseSubnet(network.subnet);
    const used = new Set<number>([parseIPv4(network.gateway)!, ...leaving.map((a) => parseIPv4(a)!)]);
    for (const endpoint of this.deps.store.endpointsOfNetwork(network.Id)) used.add(parseIPv4(endpoint.IPAddress)!);
    if (firstFreeAddress(subnet, network.ipRange ? parseSubnet(network.ipRange) : subnet, used) === undefined) await wait(leaving);
  }

  // ---- connect / disconnect ------------------------------------------------------------

  async connect(idOrName: string, request: NetworkConnectRequest): Promise<void> {
    const found = this.deps.networks.find(idOrName);
    const ref = request.Container ?? '';
    await this.deps.containers().withLocked(ref, async (container, save) => {
      const mode = parseNetworkMode(container.HostConfig.NetworkMode);
      if (typeof found === 'string' || mode.kind === 'host' || mode.kind === 'none' || mode.kind === 'container') {
        const which = typeof found === 'string' ? found : mode.kind === 'container' ? 'container' : mode.kind;
        if (which === 'host') throw invalidArgument('container cannot be disconnected from host network or connected to host network');
        throw invalidArgument(`container cannot be connected to multiple networks with one of the networks in ${which === 'none' ? 'private (none)' : which} mode`);
      }
      const network = found;
      const networks = container.Networks ?? {};
      if (network.Name in networks) throw forbidden(`endpoint with name ${container.Name.replace(/^\//, '')} already exists in network ${network.Name}`);
      const config = this.endpointConfig(network, request.EndpointConfig ?? undefined);
      if (isLive(container)) {
        if (this.deps.store.endpointsOfContainer(container.Id).length === 0) throw forbidden(`container ${container.Name.replace(/^\//, '')} has no network namespace of berth's to connect (it started without a network)`);
        const used = new Set(this.deps.store.endpointsOfContainer(container.Id).map((e) => e.ifname));
        let n = 0;
        while (used.has(`eth${n}`)) n++;
        await this.deps.networks.ensureReady(network);
        await this.join(container, network, config, this.deps.sandboxes.path(container.Id), `eth${n}`, false);
      }
      container.Networks = { ...networks, [network.Name]: config };
      await save();
      this.deps.events.publish('network', 'connect', network.Id, { container: container.Id, name: network.Name, type: 'bridge' });
    });
  }

  async disconnect(idOrName: string, request: NetworkDisconnectRequest): Promise<void> {
    const found = this.deps.networks.find(idOrName);
    const ref = request.Container ?? '';
    await this.deps.containers().withLocked(ref, async (container, save) => {
      if (found === 'host') throw invalidArgument('container cannot be disconnected from host network or connected to host network');
      const name = typeof found === 'string' ? found : found.Name;
      const networks = { ...(container.Networks ?? {}) };
      if (!(name in networks)) throw forbidden(`container ${container.Id} is not connected to network ${name}`);
      const networkId = networks[name]!.NetworkID;
      const endpoints = this.deps.store.endpointsOfContainer(container.Id).filter((e) => e.NetworkID === networkId);
      for (const endpoint of endpoints) await this.deps.driver.leave(endpoint);
      await this.deps.store.deleteEndpoints(endpoints.map((e) => e.EndpointID));
      delete networks[name];
      container.Networks = networks;
      await save();
      this.deps.events.publish('network', 'disconnect', networkId, { container: container.Id, name, type: 'bridge' });
    });
  }

  // ---- inspect -------------------------------------------------------------------------

  /** NetworkSettings.Networks and the default endpoint's legacy fields, for inspect and ps. */
  settings(container: Record_): { networks: Record<string, EndpointSettings>; primary: EndpointRecord | undefined; sandboxKey: string; ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null>; portList: PortMapping[] } {
    const mode = parseNetworkMode(container.HostConfig.NetworkMode);
    const endpoints = this.deps.store.endpointsOfContainer(container.Id);
    const result: Record<string, EndpointSettings> = {};
    const running = isLive(container);
    if (mode.kind === 'host' || mode.kind === 'none' || (mode.kind === 'default' && !container.Networks)) {
      const name = mode.kind === 'default' ? DEFAULT_NETWORK : mode.kind;
      result[name] = emptyEndpoint(mode.kind === 'default' ? '' : this.deps.networks.builtinId(mode.kind));
    }
    for (const [name, config] of Object.entries(container.Networks ?? {})) {
      const endpoint = running ? endpoints.find((e) => e.NetworkID === config.NetworkID) : undefined;
      const network = this.deps.store.network(config.NetworkID);
      const aliases = config.Aliases ?? [];
      const shownAliases = network && !network.isDefault && endpoint ? [...aliases, container.Id.slice(0, 12)] : aliases.length > 0 ? aliases : null;
      result[name] = {
        ...emptyEndpoint(config.NetworkID),
        IPAMConfig: config.IPAMConfig ? { IPv4Address: config.IPAMConfig.IPv4Address } : null,
        Aliases: shownAliases,
        MacAddress: endpoint?.MacAddress ?? '',
        DriverOpts: config.DriverOpts ?? null,
        ...(endpoint ? { EndpointID: endpoint.EndpointID, Gateway: endpoint.Gateway, IPAddress: endpoint.IPAddress, IPPrefixLen: endpoint.IPPrefixLen } : {}),
      };
    }
    const defaultNetwork = this.deps.networks.visibleNetworks().find((n) => n.isDefault);
    const primary = running && defaultNetwork ? endpoints.find((e) => e.NetworkID === defaultNetwork.Id) : undefined;
    const sandboxKey = running && endpoints.length > 0 ? this.deps.sandboxes.path(container.Id) : '';
    const published = running ? endpoints.flatMap((e) => e.ports ?? []) : [];
    return { networks: result, primary, sandboxKey, ports: portMap(container.Config.ExposedPorts, published), portList: published };
  }

  // ---- daemon start ----------------------------------------------------------------------

  /**
   * After the containers are restored: the endpoints and sandboxes of containers that are not
   * running any more go (their exits happened while the daemon was down), then veths, bridges
   * and rules that no endpoint or network owns (a kill -9 mid-way).
   */
  async sweep(): Promise<void> {
    const { store, sandboxes, logger } = this.deps;
    const containers = this.deps.containers();
    const live = (id: string) => {
      const c = containers.find(id);
      return c !== undefined && isLive(c);
    };
    for (const id of new Set(store.listEndpoints().map((e) => e.ContainerID))) {
      if (!live(id)) await this.release(id);
    }
    for (const id of await sandboxes.list()) {
      if (!live(id) || store.endpointsOfContainer(id).length === 0) await sandboxes.remove(id).catch((err: unknown) => logger.warn('cannot remove a stale network namespace', { id, error: messageOf(err) }));
    }
    const networks = this.deps.networks.visibleNetworks();
    const known = new Map(networks.map((n) => [n.bridge, n]));
    const hostIfnames = new Set(store.listEndpoints().map((e) => e.hostIfname));
    // Only bridges this daemon made: another berthd's (a second data root, a test daemon) and
    // dockerd's br-* bridges look the same by name, and are not leftovers of this one.
    const bridges = await listBridges(this.deps.bridgeOwner);
    for (const [bridge, ports] of bridges.ours) {
      const owned = known.has(bridge);
      if (!owned) logger.info('removing a bridge no network owns', { bridge });
      for (const port of ports) {
        // A veth whose container's namespace is still alive elsewhere would outlive its bridge.
        if (!owned || !hostIfnames.has(port)) {
          logger.info('removing an interface no endpoint owns', { bridge, port });
          await this.deps.driver.leave({ hostIfname: port } as EndpointRecord);
        }
      }
      if (!owned) await deleteBridge(bridge).catch((err: unknown) => logger.warn('cannot remove a stale bridge', { bridge, error: messageOf(err) }));
    }
    // Published ports of containers that kept running: their listeners again (same host
    // ports), their rules made sure of; rules for ports nothing publishes go.
    const targets = new Set<string>();
    for (const endpoint of store.listEndpoints()) {
      const network = store.network(endpoint.NetworkID);
      if (!network || !endpoint.ports?.length) continue;
      if (this.proxies.has(endpoint.ContainerID)) {
        // Started again (by its restart policy) since the daemon came up: already published.
        for (const mapping of endpoint.ports) targets.add(`${endpoint.IPAddress}:${mapping.containerPort}`);
        continue;
      }
      const proxies: PortProxy[] = [];
      for (const mapping of endpoint.ports) {
        targets.add(`${endpoint.IPAddress}:${mapping.containerPort}`);
        const proxy = await PortProxy.open(mapping, { ip: endpoint.IPAddress, port: mapping.containerPort }, new Set()).catch((err: unknown) => {
          logger.warn('cannot hold a published port again', { id: endpoint.ContainerID, port: `${mapping.hostIp}:${mapping.hostPort}`, error: messageOf(err) });
          return undefined;
        });
        if (proxy) proxies.push(proxy);
      }
      this.proxies.set(endpoint.ContainerID, proxies);
      await addPortRules(endpoint.ports.flatMap((m) => portRules(network.bridge, endpoint.IPAddress, m)));
    }
    // Rules naming a bridge someone else owns stay (berth's chains are shared by every berthd
    // on the host); rules naming a bridge of ours no network has, or one that is gone, go.
    const othersBridge = (bridge: string) => bridges.others.has(bridge) && !known.has(bridge);
    await sweepPortRules(targets, othersBridge);
    const swept = await sweepForeignRules((bridge) => known.has(bridge) || othersBridge(bridge));
    if (swept > 0) logger.info('removed firewall rules of networks that are gone', { rules: swept });
  }
}

