import { defineCommand } from '../../command';
import { confirm } from '../../output/confirm';
import { humanSize } from '../../output/units';
import { parseFilters } from '../common';

export default defineCommand({
  usage: 'image prune [OPTIONS]',
  description: 'Remove unused images',
  maxArgs: 0,
  flags: {
    all: { kind: 'bool', short: 'a', description: 'Remove all unused images, not just dangling ones' },
    filter: { kind: 'strings', description: 'Provide filter values (e.g. "until=<timestamp>")', valueName: 'filter' },
    force: { kind: 'bool', short: 'f', description: 'Do not prompt for confirmation' },
  },
  async run(ctx, flags) {
    const warning = flags.all
      ? 'WARNING! This will remove all images without at least one container associated to them.'
      : 'WARNING! This will remove all dangling images.';
    if (!flags.force && !(await confirm(ctx, `${warning}\nAre you sure you want to continue?`))) return 0;
    const client = await ctx.client();
    const filters = parseFilters(flags.filter, '--filter');
    filters.dangling = [flags.all ? 'false' : 'true'];
    const report = await client.imagesPrune(filters);
    const deleted = report.ImagesDeleted ?? [];
    if (deleted.length > 0) {
      ctx.out('Deleted Images:\n');
      for (const item of deleted) ctx.out(item.Untagged ? `untagged: ${item.Untagged}\n` : `deleted: ${item.Deleted}\n`);
      ctx.out('\n');
    }
    ctx.out(`Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
  },
});
