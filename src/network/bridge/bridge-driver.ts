import { randomBytes } from 'node:crypto';
import { ip, ipBatch } from '../commands';
import { hasNetlink, native } from '../../native';
import type { EndpointRecord, NetworkDriver, NetworkRecord, SandboxJoin } from '../types';
import type { SandboxLink } from '../sandbox';
import { ensureNetworkRules, removeNetworkRules } from './firewall';
import { assignGateway, bringUp, createBridge, deleteBridge, enableForwarding } from './steps';

/** Linux bridge networks: one bridge each, a veth pair per container, NAT in berth's chains. */
export class BridgeDriver implements NetworkDriver {
  /** @param owner the mark this daemon's bridges carry (bridgeOwnerTag of its data root). */
  constructor(readonly owner: string) {}

  async ensureNetwork(network: NetworkRecord): Promise<void> {
    await createBridge(network, this.owner);
    await assignGateway(network);
    await bringUp(network);
    if (!network.Internal) await enableForwarding();
    await ensureNetworkRules(network);
  }

  async removeNetwork(network: NetworkRecord): Promise<void> {
    await removeNetworkRules(network);
    await deleteBridge(network.bridge);
  }

  async join(network: NetworkRecord, endpoint: EndpointRecord, netnsPath: string, defaultRoute: boolean): Promise<void> {
    const mtu = network.Options['com.docker.network.driver.mtu'];
    await ipBatch([
      `link add ${endpoint.hostIfname}${mtu ? ` mtu ${mtu}` : ''} type veth peer name ${endpoint.ifname}${mtu ? ` mtu ${mtu}` : ''} netns ${netnsPath}`,
      `link set dev ${endpoint.hostIfname} master ${network.bridge} up`,
    ]);
    try {
      await ipBatch(
        [
          'link set dev lo up',
          `link set dev ${endpoint.ifname} address ${endpoint.MacAddress}`,
          `addr add ${endpoint.IPAddress}/${endpoint.IPPrefixLen} dev ${endpoint.ifname}`,
          `link set dev ${endpoint.ifname} up`,
          ...(defaultRoute && !network.Internal ? [`route replace default via ${endpoint.Gateway} dev ${endpoint.ifname}`] : []),
        ],
        netnsPath,
      );
    } catch (err) {
      await this.leave(endpoint);
      throw err;
    }
  }

  sandboxLinks(joins: readonly SandboxJoin[]): SandboxLink[] {
    return joins.map(({ network, endpoint, defaultRoute }) => ({
      ifname: endpoint.ifname,
      peer: endpoint.hostIfname,
      master: network.bridge,
      mac: endpoint.MacAddress,
      mtu: Number(network.Options['com.docker.network.driver.mtu'] ?? 0) || 0,
      address: endpoint.IPAddress,
      prefixLen: endpoint.IPPrefixLen,
      ...(defaultRoute && !network.Internal ? { gateway: endpoint.Gateway } : {}),
    }));
  }

  async leave(endpoint: EndpointRecord): Promise<void> {
    // Deleting one end deletes the pair; a sandbox already gone took it with it (no check
    // first, a missing device is fine). In-process rtnetlink, off the JS thread (the kernel
    // waits for an RCU grace period), where the addon has it.
    try {
      if (hasNetlink()) await native.linkDelete(endpoint.hostIfname);
      else await ip(['link', 'del', 'dev', endpoint.hostIfname]);
    } catch {
      // gone already, or going with its namespace
    }
  }
}

/** A host-side veth name as Docker makes them: "veth" and 7 hex digits. */
export function newHostIfname(): string {
  return `veth${randomBytes(4).toString('hex').slice(0, 7)}`;
}
