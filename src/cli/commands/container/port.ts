import { defineCommand, StatusError } from '../../command';

/** docker port: the container's published ports ("80/tcp -> 0.0.0.0:8080"), or one port's host addresses. */
export default defineCommand({
  usage: 'port CONTAINER [PRIVATE_PORT[/PROTO]]',
  description: 'List port mappings or a specific mapping for the container',
  minArgs: 1,
  maxArgs: 2,
  flags: {},
  async run(ctx, _flags, args) {
    const client = await ctx.client();
    const ports = ((await client.containerInspect(args[0]!)).NetworkSettings.Ports ?? {}) as Record<string, Array<{ HostIp: string; HostPort: string }> | null>;
    const hostAddress = (b: { HostIp: string; HostPort: string }) => `${b.HostIp.includes(':') ? `[${b.HostIp}]` : b.HostIp}:${b.HostPort}`;
    if (args[1] !== undefined) {
      const key = args[1].includes('/') ? args[1] : `${args[1]}/tcp`;
      const bindings = ports[key];
      if (!bindings?.length) throw new StatusError(1, `Error: No public port '${key}' published for ${args[0]}`);
      ctx.out(bindings.map((b) => `${hostAddress(b)}\n`).join(''));
      return;
    }
    const lines: string[] = [];
    for (const [key, bindings] of Object.entries(ports)) for (const b of bindings ?? []) lines.push(`${key} -> ${hostAddress(b)}`);
    // As docker 28: sorted by port, then protocol.
    lines.sort((a, b) => parseInt(a, 10) - parseInt(b, 10) || (a < b ? -1 : a > b ? 1 : 0));
    ctx.out(lines.map((l) => `${l}\n`).join(''));
  },
});
