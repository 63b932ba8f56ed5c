import { defineCommand } from '../../command';
import { forEachName } from '../common';

export default defineCommand({
  usage: 'wait CONTAINER [CONTAINER...]',
  description: 'Block until one or more containers stop, then print their exit codes',
  minArgs: 1,
  flags: {},
  async run(ctx, _flags, args) {
    const client = await ctx.client();
    return forEachName(ctx, args, async (name) => String((await client.containerWait(name)).StatusCode));
  },
});
