import { defineCommand } from '../../command';
import { confirm } from '../../output/confirm';
import { parseFilters } from '../common';

export default defineCommand({
  usage: 'network prune [OPTIONS]',
  description: 'Remove all unused networks',
  maxArgs: 0,
  flags: {
    filter: { kind: 'strings', description: 'Provide filter values (e.g. "until=<timestamp>")', valueName: 'filter' },
    force: { kind: 'bool', short: 'f', description: 'Do not prompt for confirmation' },
  },
  async run(ctx, flags) {
    const filters = parseFilters(flags.filter, '--filter');
    const warning = 'WARNING! This will remove all custom networks not used by at least one container.';
    if (!flags.force && !(await confirm(ctx, `${warning}\nAre you sure you want to continue?`))) return 0;
    const client = await ctx.client();
    const deleted = (await client.networksPrune(filters)).NetworksDeleted ?? [];
    if (deleted.length > 0) ctx.out(`Deleted Networks:\n${deleted.map((name) => `${name}\n`).join('')}\n`);
  },
});
