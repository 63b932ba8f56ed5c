import { defineCommand, StatusError } from '../../command';

/** "k=v" → {k: v}; a bare "k" maps to "" (docker's ConvertKVStringsToMap / MapOpts). */
function keyValues(list: string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq === -1) map[item] = '';
    else map[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return map;
}

export default defineCommand({
  usage: 'volume create [OPTIONS] [VOLUME]',
  description: 'Create a volume',
  maxArgs: 1,
  flags: {
    driver: { kind: 'string', short: 'd', description: 'Specify volume driver name', default: 'local' },
    label: { kind: 'strings', description: 'Set metadata for a volume', valueName: 'list' },
    name: { kind: 'string', description: 'Specify volume name' },
    opt: { kind: 'strings', short: 'o', description: 'Set driver specific options', valueName: 'map' },
  },
  async run(ctx, flags, args) {
    if (flags.name !== undefined && args[0] !== undefined && flags.name !== args[0]) {
      throw new StatusError(1, 'conflicting options: cannot specify a volume-name through both --name and as a positional arg');
    }
    const client = await ctx.client();
    const volume = await client.volumeCreate({
      Name: args[0] ?? flags.name ?? '',
      Driver: flags.driver,
      DriverOpts: keyValues(flags.opt),
      Labels: keyValues(flags.label),
    });
    ctx.out(`${volume.Name}\n`);
  },
});
