import { defineCommand } from '../../command';
import { displayJsonMessages, splitReference } from '../common';

export default defineCommand({
  usage: 'pull [OPTIONS] NAME[:TAG|@DIGEST]',
  description: 'Download an image from a registry',
  minArgs: 1,
  maxArgs: 1,
  flags: {
    'all-tags': { kind: 'bool', short: 'a', description: 'Download all tagged images in the repository' },
    platform: { kind: 'string', description: 'Set platform if server is multi-platform capable' },
    quiet: { kind: 'bool', short: 'q', description: 'Suppress verbose output' },
  },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    const ref = args[0]!;
    const { repo, tag } = splitReference(ref);
    const res = await client.imagePull(repo, flags['all-tags'] ? undefined : (tag ?? (ref.includes('@') ? undefined : 'latest')));
    await displayJsonMessages(ctx, res, { quiet: flags.quiet });
  },
});
