import { defineCommand } from '../../command';
import { writeOutput } from '../common';

export default defineCommand({
  usage: 'save [OPTIONS] IMAGE [IMAGE...]',
  description: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  minArgs: 1,
  flags: { output: { kind: 'string', short: 'o', description: 'Write to a file, instead of STDOUT' } },
  async run(ctx, flags, args) {
    if (!flags.output && ctx.stdout.isTTY) {
      ctx.err('cowardly refusing to save to a terminal. Use the -o flag or redirect\n');
      return 1;
    }
    const client = await ctx.client();
    await writeOutput(ctx, await client.imageSave(args), flags.output, 'save');
  },
});
