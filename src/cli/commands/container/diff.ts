import { defineCommand } from '../../command';

const KINDS = ['C', 'A', 'D'];

export default defineCommand({
  usage: 'diff CONTAINER',
  description: "Inspect changes to files or directories on a container's filesystem",
  minArgs: 1,
  maxArgs: 1,
  flags: {},
  async run(ctx, _flags, args) {
    const client = await ctx.client();
    for (const change of (await client.containerChanges(args[0]!)) ?? []) ctx.out(`${KINDS[change.Kind]} ${change.Path}\n`);
  },
});
