import { defineCommand } from '../../command';
import { forEachName } from '../common';

export default defineCommand({
  usage: 'kill [OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Kill one or more running containers',
  minArgs: 1,
  flags: { signal: { kind: 'string', short: 's', description: 'Signal to send to the container' } },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    return forEachName(ctx, args, (name) => client.containerKill(name, flags.signal));
  },
});
