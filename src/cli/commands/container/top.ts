import { defineCommand } from '../../command';
import { alignTabs } from '../../output/table';

export default defineCommand({
  usage: 'top CONTAINER [ps OPTIONS]',
  description: 'Display the running processes of a container',
  interspersed: false,
  minArgs: 1,
  flags: {},
  async run(ctx, _flags, args) {
    const client = await ctx.client();
    const [container, ...psArgs] = args as [string, ...string[]];
    const top = await client.containerTop(container, psArgs.length > 0 ? psArgs.join(' ') : undefined);
    const lines = [top.Titles.join('\t'), ...top.Processes.map((p) => p.join('\t'))];
    ctx.out(`${alignTabs(lines.join('\n'), 20, 1)}\n`);
  },
});
