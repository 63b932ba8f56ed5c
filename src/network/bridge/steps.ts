import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { ip } from '../commands';
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
export async function createBridge(network: NetworkRecord): Promise<void> {
  const shown = await ip(['-j', 'link', 'show', 'dev', network.bridge]).catch(() => undefined);
  if (shown) {
    const current = (JSON.parse(shown.stdout.toString() || '[]') as Array<{ address?: string }>)[0]?.address;
    // Setting it, even to the same value, marks the address as set: the kernel stops recalculating it.
    await ip(['link', 'set', 'dev', network.bridge, 'address', current && current !== '00:00:00:00:00:00' ? current : randomMac()]);
    return;
  }
  const mtu = network.Options['com.docker.network.driver.mtu'];
  await ip(['link', 'add', 'name', network.bridge, 'address', randomMac(), ...(mtu ? ['mtu', mtu] : []), 'type', 'bridge']);
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

/** The names of berth's bridges (berth0, br-*) that exist, and of the veths attached to each. */
export async function listBridges(): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>();
  const links = JSON.parse((await ip(['-j', 'link', 'show'])).stdout.toString() || '[]') as Array<{ ifname: string; master?: string; linkinfo?: { info_kind?: string } }>;
  const detailed = JSON.parse((await ip(['-j', '-d', 'link', 'show', 'type', 'bridge'])).stdout.toString() || '[]') as Array<{ ifname: string }>;
  for (const bridge of detailed) {
    if (bridge.ifname === 'berth0' || bridge.ifname.startsWith('br-')) result.set(bridge.ifname, []);
  }
  for (const link of links) {
    if (link.master && result.has(link.master)) result.get(link.master)!.push(link.ifname);
  }
  return result;
}
