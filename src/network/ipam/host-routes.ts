import { ip } from '../commands';
import { parseSubnet, type Subnet } from './subnets';

/**
 * The IPv4 prefixes the host already routes (every table, addresses' own prefixes included),
 * so a picked subnet does not shadow a network the host reaches. The default route is not
 * one of them.
 */
export async function hostRoutes(): Promise<Subnet[]> {
  const routes = JSON.parse((await ip(['-j', '-4', 'route', 'show', 'table', 'all'])).stdout.toString() || '[]') as Array<{ dst?: string; type?: string }>;
  const result: Subnet[] = [];
  for (const route of routes) {
    if (!route.dst || route.dst === 'default') continue;
    if (route.type && !['unicast', 'local'].includes(route.type)) continue;
    try {
      const subnet = parseSubnet(route.dst.includes('/') ? route.dst : `${route.dst}/32`);
      // Loopback's /8 and local host routes do not collide with a bridge's subnet.
      if (subnet.base >>> 24 === 127) continue;
      result.push(subnet);
    } catch {
      // not an IPv4 prefix
    }
  }
  return result;
}
