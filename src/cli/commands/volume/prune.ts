import { defineCommand, StatusError } from '../../command';
import { confirm } from '../../output/confirm';
import { humanSize } from '../../output/units';
import { parseFilters } from '../common';

export default defineCommand({
  usage: 'volume prune [OPTIONS]',
  description: 'Remove unused local volumes',
  maxArgs: 0,
  flags: {
    all: { kind: 'bool', short: 'a', description: 'Remove all unused volumes, not just anonymous ones' },
    filter: { kind: 'strings', description: 'Provide filter values (e.g. "label=<label>")', valueName: 'filter' },
    force: { kind: 'bool', short: 'f', description: 'Do not prompt for confirmation' },
  },
  async run(ctx, flags) {
    const filters = parseFilters(flags.filter, '--filter');
    if (flags.all) {
      if (filters.all !== undefined) throw new StatusError(1, 'conflicting options: cannot specify both --all and --filter all=1');
      filters.all = ['true'];
    }
    // Since API 1.42 prune keeps named volumes unless all=true.
    const warning = flags.all
      ? 'WARNING! This will remove all local volumes not used by at least one container.'
      : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
    if (!flags.force && !(await confirm(ctx, `${warning}\nAre you sure you want to continue?`))) return 0;
    const client = await ctx.client();
    const report = await client.volumesPrune(filters);
    const deleted = report.VolumesDeleted ?? [];
    if (deleted.length > 0) ctx.out(`Deleted Volumes:\n${deleted.map((name) => `${name}\n`).join('')}\n`);
    ctx.out(`Total reclaimed space: ${humanSize(deleted.length > 0 ? report.SpaceReclaimed : 0)}\n`);
  },
});
