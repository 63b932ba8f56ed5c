import { defineCommand, StatusError } from '../../command';
import type { IpamConfig } from '../../../api/types/networks';

/** "k=v" → {k: v}; a bare "k" maps to "" (docker's MapOpts). */
function keyValues(list: string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq === -1) map[item] = '';
    else map[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return map;
}

/** docker's consolidateIpam: each --gateway and --ip-range goes with the --subnet that holds it. */
function ipamConfigs(subnets: string[], ranges: string[], gateways: string[]): IpamConfig[] {
  if (subnets.length < ranges.length || subnets.length < gateways.length) throw new StatusError(1, 'every ip-range or gateway must have a corresponding subnet');
  const configs: IpamConfig[] = subnets.map((Subnet) => ({ Subnet }));
  const inside = (subnet: string, address: string) => {
    const [base, bits] = subnet.split('/');
    const toNumber = (ip: string) => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
    const size = 2 ** (32 - Number(bits));
    const start = Math.floor(toNumber(base ?? '') / size) * size;
    const value = toNumber(address.split('/')[0] ?? '');
    return value >= start && value < start + size;
  };
  for (const [values, key] of [[ranges, 'IPRange'], [gateways, 'Gateway']] as const) {
    for (const value of values) {
      const config = configs.find((c) => inside(c.Subnet!, value));
      if (!config) throw new StatusError(1, `no matching subnet for ${key === 'IPRange' ? 'range' : 'gateway'} ${value}`);
      if (config[key]) throw new StatusError(1, `cannot configure multiple ${key === 'IPRange' ? 'ranges' : 'gateways'} (${value}, ${config[key]}) on the same subnet (${config.Subnet})`);
      config[key] = value;
    }
  }
  return configs;
}

export default defineCommand({
  usage: 'network create [OPTIONS] NETWORK',
  description: 'Create a network',
  minArgs: 1,
  maxArgs: 1,
  flags: {
    attachable: { kind: 'bool', description: 'Enable manual container attachment' },
    driver: { kind: 'string', short: 'd', description: 'Driver to manage the Network', default: 'bridge' },
    gateway: { kind: 'strings', description: 'IPv4 or IPv6 Gateway for the master subnet', valueName: 'strings' },
    internal: { kind: 'bool', description: 'Restrict external access to the network' },
    'ip-range': { kind: 'strings', description: 'Allocate container ip from a sub-range', valueName: 'strings' },
    'ipam-driver': { kind: 'string', description: 'IP Address Management Driver', default: 'default' },
    'ipam-opt': { kind: 'strings', description: 'Set IPAM driver specific options', valueName: 'map' },
    ipv6: { kind: 'bool', description: 'Enable or disable IPv6 networking' },
    label: { kind: 'strings', description: 'Set metadata on a network', valueName: 'list' },
    opt: { kind: 'strings', short: 'o', description: 'Set driver specific options', valueName: 'map' },
    subnet: { kind: 'strings', description: 'Subnet in CIDR format that represents a network segment', valueName: 'strings' },
  },
  async run(ctx, flags, args) {
    const config = ipamConfigs(flags.subnet, flags['ip-range'], flags.gateway);
    const client = await ctx.client();
    const created = await client.networkCreate({
      Name: args[0]!,
      CheckDuplicate: true,
      Driver: flags.driver,
      Options: keyValues(flags.opt),
      IPAM: { Driver: flags['ipam-driver'], Config: config, Options: keyValues(flags['ipam-opt']) },
      Internal: flags.internal,
      EnableIPv6: flags.ipv6,
      Attachable: flags.attachable,
      Labels: keyValues(flags.label),
    });
    ctx.out(`${created.Id}\n`);
  },
});
