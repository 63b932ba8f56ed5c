import { defineCommand, StatusError } from '../../command';
import { errorText } from '../common';

export default defineCommand({
  usage: 'rmi [OPTIONS] IMAGE [IMAGE...]',
  description: 'Remove one or more images',
  minArgs: 1,
  flags: {
    force: { kind: 'bool', short: 'f', description: 'Force removal of the image' },
    'no-prune': { kind: 'bool', description: 'Do not delete untagged parents' },
  },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    const errors: string[] = [];
    for (const name of args) {
      try {
        for (const item of await client.imageRemove(name, { force: flags.force, noPrune: flags['no-prune'] })) {
          if (item.Untagged) ctx.out(`Untagged: ${item.Untagged}\n`);
          if (item.Deleted) ctx.out(`Deleted: ${item.Deleted}\n`);
        }
      } catch (err: unknown) {
        errors.push(await errorText(err));
      }
    }
    if (errors.length > 0) throw new StatusError(1, errors.join('\n'));
  },
});
