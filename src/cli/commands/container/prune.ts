import { defineCommand } from '../../command';
import { humanSize } from '../../output/units';
import { confirm } from '../../output/confirm';
import { parseFilters } from '../common';

export default defineCommand({
  usage: 'prune [OPTIONS]',
  description: 'Remove all stopped containers',
  maxArgs: 0,
  flags: {
    filter: { kind: 'strings', description: 'Provide filter values (e.g. "until=<timestamp>")', valueName: 'filter' },
    force: { kind: 'bool', short: 'f', description: 'Do not prompt for confirmation' },
  },
  async run(ctx, flags) {
    if (!flags.force && !(await confirm(ctx, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue?'))) return 0;
    const client = await ctx.client();
    const report = await client.containersPrune(parseFilters(flags.filter, '--filter'));
    const deleted = report.ContainersDeleted ?? [];
    if (deleted.length > 0) ctx.out(`Deleted Containers:\n${deleted.map((id) => `${id}\n`).join('')}\n`);
    ctx.out(`Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
  },
});
