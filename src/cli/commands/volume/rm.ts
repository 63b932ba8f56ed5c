import { defineCommand } from '../../command';
import { forEachName } from '../common';

export default defineCommand({
  usage: 'volume rm [OPTIONS] VOLUME [VOLUME...]',
  description: 'Remove one or more volumes',
  minArgs: 1,
  flags: {
    force: { kind: 'bool', short: 'f', description: 'Force the removal of one or more volumes' },
  },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    return forEachName(ctx, args, (name) => client.volumeRemove(name, { force: flags.force }));
  },
});
