import { defineCommand } from '../../command';

export default defineCommand({
  usage: 'rename CONTAINER NEW_NAME',
  description: 'Rename a container',
  minArgs: 2,
  maxArgs: 2,
  flags: {},
  async run(ctx, _flags, args) {
    const client = await ctx.client();
    await client.containerRename(args[0]!, args[1]!);
  },
});
