import { defineCommand } from '../../command';
import { splitReference } from '../common';

export default defineCommand({
  usage: 'commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
  description: "Create a new image from a container's changes",
  minArgs: 1,
  maxArgs: 2,
  flags: {
    author: { kind: 'string', short: 'a', description: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
    change: { kind: 'strings', short: 'c', description: 'Apply Dockerfile instruction to the created image' },
    message: { kind: 'string', short: 'm', description: 'Commit message' },
    pause: { kind: 'bool', short: 'p', default: true, description: 'Pause container during commit' },
  },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    const ref = args[1] ? splitReference(args[1]) : undefined;
    const { Id } = await client.commit({
      container: args[0]!,
      repo: ref?.repo,
      tag: ref?.tag,
      comment: flags.message,
      author: flags.author,
      pause: flags.pause,
      changes: flags.change,
    });
    ctx.out(`${Id}\n`);
  },
});
