/**
 * Networks as berth keeps them (src/network/store.ts persists them) and the driver boundary:
 * a NetworkDriver builds a network's host side (bridge, gateway address, firewall chains)
 * and joins a container's network namespace (a sandbox, src/network/sandbox.ts) to it. The
 * engine sets the sandbox up between create and start and hands its netns path to the spec.
 */
import type { SandboxLink } from '../native';
import type { PortMapping } from './ports/port-specs';

export interface NetworkRecord {
  Id: string;
  Name: string;
  Driver: 'bridge';
  Created: string;
  /** The subnet, gateway and allocation range in use (CIDR / dotted). */
  subnet: string;
  gateway: string;
  ipRange?: string;
  /** IPAM.Config as inspect shows it: what the user gave, or the picked subnet and gateway. */
  ipamConfig: Array<{ Subnet?: string; Gateway?: string; IPRange?: string }>;
  Internal: boolean;
  Attachable: boolean;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  /** The Linux bridge's name: berth0 for the default network, br-<id12> otherwise. */
  bridge: string;
  /** The default network (`bridge`): no aliases, no static addresses, no DNS. */
  isDefault?: boolean;
}

/** A container's live attachment to a network (from start to exit). */
export interface EndpointRecord {
  EndpointID: string;
  NetworkID: string;
  ContainerID: string;
  /** The interface inside the container (eth0, eth1, ...). */
  ifname: string;
  /** The host end of the veth pair. */
  hostIfname: string;
  IPAddress: string;
  IPPrefixLen: number;
  Gateway: string;
  MacAddress: string;
  /** The ports published through this endpoint (the container's first network). */
  ports?: PortMapping[];
}

export interface NetworkDriver {
  /** Creates the network's host side, or completes it: idempotent, so a restart rebuilds it. */
  ensureNetwork(network: NetworkRecord, all: readonly NetworkRecord[]): Promise<void>;
  /** Removes the host side; what is already gone is fine. */
  removeNetwork(network: NetworkRecord, remaining: readonly NetworkRecord[]): Promise<void>;
  /** Adds the container's interface: veth pair, address, default route (the first network's). */
  join(network: NetworkRecord, endpoint: EndpointRecord, netnsPath: string, defaultRoute: boolean): Promise<void>;
  /** Removes the container's interface (its host end); gone already is fine. */
  leave(endpoint: EndpointRecord): Promise<void>;
  /** At start, the interfaces of a new sandbox, all made with it (Sandboxes.create) instead of join's one at a time. */
  sandboxLinks(joins: readonly SandboxJoin[]): SandboxLink[];
}

export interface SandboxJoin {
  network: NetworkRecord;
  endpoint: EndpointRecord;
  /** The first network's gateway is the default route. */
  defaultRoute: boolean;
}
