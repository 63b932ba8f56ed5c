import { defineCommand } from '../../command';
import { splitReference } from '../common';

export default defineCommand({
  usage: 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  minArgs: 2,
  maxArgs: 2,
  flags: {},
  async run(ctx, _flags, args) {
    const client = await ctx.client();
    const { repo, tag } = splitReference(args[1]!);
    await client.imageTag(args[0]!, repo, tag ?? 'latest');
  },
});
