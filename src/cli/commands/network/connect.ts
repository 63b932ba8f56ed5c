import { defineCommand } from '../../command';

export default defineCommand({
  usage: 'network connect [OPTIONS] NETWORK CONTAINER',
  description: 'Connect a container to a network',
  minArgs: 2,
  maxArgs: 2,
  flags: {
    alias: { kind: 'strings', description: 'Add network-scoped alias for the container', valueName: 'strings' },
    'driver-opt': { kind: 'strings', description: 'driver options for the network', valueName: 'strings' },
    ip: { kind: 'string', description: 'IPv4 address (e.g., "172.30.100.104")', valueName: 'string' },
    ip6: { kind: 'string', description: 'IPv6 address (e.g., "2001:db8::33")', valueName: 'string' },
    link: { kind: 'strings', description: 'Add link to another container', valueName: 'list' },
    'link-local-ip': { kind: 'strings', description: 'Add a link-local address for the container', valueName: 'strings' },
  },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    const driverOpts = Object.fromEntries(flags['driver-opt'].map((o) => [o.split('=')[0]!, o.split('=').slice(1).join('=')]));
    await client.networkConnect(args[0]!, {
      Container: args[1]!,
      EndpointConfig: {
        IPAMConfig: { IPv4Address: flags.ip ?? '', IPv6Address: flags.ip6 ?? '', LinkLocalIPs: flags['link-local-ip'] },
        Links: flags.link,
        Aliases: flags.alias,
        DriverOpts: driverOpts,
      },
    });
  },
});
