import { defineCommand } from '../../command';

export default defineCommand({
  usage: 'network disconnect [OPTIONS] NETWORK CONTAINER',
  description: 'Disconnect a container from a network',
  minArgs: 2,
  maxArgs: 2,
  flags: {
    force: { kind: 'bool', short: 'f', description: 'Force the container to disconnect from a network' },
  },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    await client.networkDisconnect(args[0]!, { Container: args[1]!, Force: flags.force });
  },
});
