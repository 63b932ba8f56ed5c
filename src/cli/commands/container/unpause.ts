import { defineCommand } from '../../command';
import { forEachName } from '../common';

export default defineCommand({
  usage: 'unpause CONTAINER [CONTAINER...]',
  description: 'Unpause all processes within one or more containers',
  minArgs: 1,
  flags: {},
  async run(ctx, _flags, args) {
    const client = await ctx.client();
    return forEachName(ctx, args, (name) => client.containerUnpause(name));
  },
});
