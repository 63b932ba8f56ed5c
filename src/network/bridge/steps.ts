import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { ip, ipBatch } from '../commands';
import type { NetworkRecord } from '../types';

/**
 * The bridge driver's setup, as named steps that each do one thing and can run again
 * (moby's bridge driver's setupDevice, setupBridgeIPv4, setupIPForwarding, ...).
 */

/**
 * The bridge device, created when missing, with a MAC address of its own (moby's setupDevice).
 * A bridge whose address was never set takes the lowest MAC of its ports, so it changed each
 * time a container's veth came or went; the containers' ARP caches kept the gateway's old MAC
 * and their packets to the gateway (embedded DNS, outbound traffic) were lost until the entry
 * expired. A bridge made before this keeps its current address, now pinned.
 */
export async function createBridge(network: NetworkRecord, owner: string): Promise<void> {
  const shown = await ip(['-j', 'link', 'show', 'dev', network.bridge]).catch(() => undefined);
  if (shown) {
    const current = (JSON.parse(shown.stdout.toString() || '[]') as Array<{ address?: string }>)[0]?.address;
    // Setting it, even to the same value, marks the address as set: the kernel stops recalculating it.
    // The network is this daemon's (its record says so): a bridge made by an older berth is claimed.
    await ipBatch([`link set dev ${network.bridge} address ${current && current !== '00:00:00:00:00:00' ? current : randomMac()}`, `link set dev ${network.bridge} alias ${owner}`]);
    return;
  }
  const mtu = network.Options['com.docker.network.driver.mtu'];
  // `ip link add` ignores an alias: it is set by the next line of the same batch.
  await ipBatch([`link add name ${network.bridge} address ${randomMac()}${mtu ? ` mtu ${mtu}` : ''} type bridge`, `link set dev ${network.bridge} alias ${owner}`]);
}

/**
 * The mark (the bridge's ifalias) that says which daemon made a bridge: its data root's hash.
 * Another berthd on the same host (a test daemon, a second data root) and dockerd (whose user
 * networks are br-<id> too) must never see their bridges swept as leftovers of this one.
 */
export function bridgeOwnerTag(dataRoot: string): string {
  return `berth-owner-${createHash('sha256').update(dataRoot).digest('hex').slice(0, 16)}`;
}

/** A random locally administered unicast MAC (moby's netutils.GenerateRandomMAC). */
export function randomMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = (bytes[0]! & 0xfe) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The gateway's address on the bridge (replace: present already is fine). */
export async function assignGateway(network: NetworkRecord): Promise<void> {
  const prefix = network.subnet.split('/')[1];
  await ip(['addr', 'replace', `${network.gateway}/${prefix}`, 'dev', network.bridge]);
}

export async function bringUp(network: NetworkRecord): Promise<void> {
  await ip(['link', 'set', 'dev', network.bridge, 'up']);
}

/** IPv4 forwarding in the daemon's network namespace (as dockerd turns it on). */
export async function enableForwarding(): Promise<void> {
  const file = '/proc/sys/net/ipv4/ip_forward';
  if ((await fs.readFile(file, 'utf8')).trim() !== '1') await fs.writeFile(file, '1\n');
}

/** Deletes the bridge (its address and routes go with it); absent is fine. */
export async function deleteBridge(bridge: string): Promise<void> {
  const shown = await ip(['-o', 'link', 'show', 'dev', bridge]).catch(() => undefined);
  if (shown) await ip(['link', 'del', 'dev', bridge]);
}

export type HostBridges = {
  /** The bridges this daemon made (its owner mark), with the veths attached to each. */
  ours: Map<string, string[]>;
  /** Every other bridge that exists: another daemon's, dockerd's, the host's own. */
  others: Set<string>;
};

/** The bridges that exist, split by the owner mark into this daemon's and everyone else's. */
export async function listBridges(owner: string): Promise<HostBridges> {
  const ours = new Map<string, string[]>();
  const others = new Set<string>();
  const bridges = JSON.parse((await ip(['-j', 'link', 'show', 'type', 'bridge'])).stdout.toString() || '[]') as Array<{ ifname: string; ifalias?: string }>;
  for (const bridge of bridges) {
    if (bridge.ifalias === owner) ours.set(bridge.ifname, []);
    else others.add(bridge.ifname);
  }
  const links = JSON.parse((await ip(['-j', 'link', 'show'])).stdout.toString() || '[]') as Array<{ ifname: string; master?: string }>;
  for (const link of links) {
    if (link.master && ours.has(link.master)) ours.get(link.master)!.push(link.ifname);
  }
  return { ours, others };
}
