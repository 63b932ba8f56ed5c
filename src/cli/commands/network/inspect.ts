import { defineCommand, FORMAT_FLAG } from '../../command';
import { inspectEach } from '../inspect-objects';

export default defineCommand({
  usage: 'network inspect [OPTIONS] NETWORK [NETWORK...]',
  description: 'Display detailed information on one or more networks',
  minArgs: 1,
  flags: { format: { ...FORMAT_FLAG, short: 'f' }, verbose: { kind: 'bool', short: 'v', description: 'Verbose output for diagnostics' } },
  /** As docker's inspect.Inspect: the networks found, then the daemon's errors with status 1. */
  async run(ctx, flags, args) {
    const client = await ctx.client();
    await inspectEach(ctx, args, flags.format ?? '', (name) => client.networkInspect(name));
  },
});
