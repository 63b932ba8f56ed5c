import { defineCommand, StatusError } from '../../command';
import { errorText } from '../common';
import { isNotFoundError } from '../../../client/errors';

export default defineCommand({
  usage: 'network rm NETWORK [NETWORK...]',
  description: 'Remove one or more networks',
  minArgs: 1,
  flags: {
    force: { kind: 'bool', short: 'f', description: 'Do not error if the network does not exist' },
  },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    const errors: string[] = [];
    for (const name of args) {
      try {
        await client.networkRemove(name);
        ctx.out(`${name}\n`);
      } catch (err: unknown) {
        if (flags.force && isNotFoundError(err)) continue;
        errors.push(await errorText(err));
      }
    }
    // docker 28 prints the errors, then its status error's own text.
    if (errors.length > 0) throw new StatusError(1, `${errors.join('\n')}\nexit status 1`);
    return 0;
  },
});
