import { defineCommand } from '../../command';
import { forEachName } from '../common';

export default defineCommand({
  usage: 'restart [OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Restart one or more containers',
  minArgs: 1,
  flags: {
    signal: { kind: 'string', short: 's', description: 'Signal to send to the container' },
    timeout: { kind: 'int', short: 't', aliases: ['time'], description: 'Seconds to wait before killing the container' },
  },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    return forEachName(ctx, args, (name) => client.containerRestart(name, { timeout: flags.timeout, signal: flags.signal }));
  },
});
