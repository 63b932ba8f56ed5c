import { defineCommand } from '../../command';
import { writeOutput } from '../common';

export default defineCommand({
  usage: 'export [OPTIONS] CONTAINER',
  description: "Export a container's filesystem as a tar archive",
  minArgs: 1,
  maxArgs: 1,
  flags: { output: { kind: 'string', short: 'o', description: 'Write to a file, instead of STDOUT' } },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    if (!flags.output && ctx.stdout.isTTY) return writeOutput(ctx, await client.containerExport(args[0]!), undefined, 'export');
    await writeOutput(ctx, await client.containerExport(args[0]!), flags.output, 'export');
  },
});
