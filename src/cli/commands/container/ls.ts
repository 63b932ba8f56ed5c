import { defineCommand, FORMAT_FLAG } from '../../command';
import { renderList } from '../../output/format';
import { parseFilters } from '../common';
import { ContainerContext, PS_DEFAULT_TABLE, PS_HEADERS } from './ps-context';

export default defineCommand({
  usage: 'ps [OPTIONS]',
  description: 'List containers',
  maxArgs: 0,
  flags: {
    all: { kind: 'bool', short: 'a', description: 'Show all containers (default shows just running)' },
    filter: { kind: 'strings', short: 'f', description: 'Filter output based on conditions provided', valueName: 'filter' },
    format: FORMAT_FLAG,
    last: { kind: 'int', short: 'n', description: 'Show n last created containers (includes all states)', default: -1 },
    latest: { kind: 'bool', short: 'l', description: 'Show the latest created container (includes all states)' },
    'no-trunc': { kind: 'bool', description: "Don't truncate output" },
    quiet: { kind: 'bool', short: 'q', description: 'Only display container IDs' },
    size: { kind: 'bool', short: 's', description: 'Display total file sizes' },
  },
  async run(ctx, flags) {
    const client = await ctx.client();
    const limit = flags.latest ? 1 : flags.last;
    const format = flags.format ?? '';
    const wantsSize = flags.size || /\.Size\b/.test(format);
    const list = await client.containerList({ all: flags.all, limit: limit > 0 ? limit : undefined, size: wantsSize, filters: parseFilters(flags.filter) });
    const items = list.map((c) => new ContainerContext(c, !flags['no-trunc']));
    if (flags.quiet && format === '') {
      for (const item of items) ctx.out(`${item.ID}\n`);
      return;
    }
    let template = format;
    if (template === '' || template === 'table') template = flags.size ? `${PS_DEFAULT_TABLE}\t{{.Size}}` : PS_DEFAULT_TABLE;
    ctx.out(renderList(template, items, { defaultTable: PS_DEFAULT_TABLE, headers: PS_HEADERS }));
  },
});
