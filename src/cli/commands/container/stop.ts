import { defineCommand } from '../../command';
import { forEachName } from '../common';

export default defineCommand({
  usage: 'stop [OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Stop one or more running containers',
  minArgs: 1,
  flags: {
    signal: { kind: 'string', short: 's', description: 'Signal to send to the container' },
    timeout: { kind: 'int', short: 't', aliases: ['time'], description: 'Seconds to wait before killing the container' },
  },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    return forEachName(ctx, args, (name) => client.containerStop(name, { timeout: flags.timeout, signal: flags.signal }));
  },
});
