import { defineCommand } from '../../command';
import { confirm } from '../../output/confirm';
import { humanSize } from '../../output/units';
import { errorText, parseFilters } from '../common';

export default defineCommand({
  usage: 'system prune [OPTIONS]',
  description: 'Remove unused data',
  maxArgs: 0,
  flags: {
    all: { kind: 'bool', short: 'a', description: 'Remove all unused images not just dangling ones' },
    filter: { kind: 'strings', description: 'Provide filter values (e.g. "label=<key>=<value>")', valueName: 'filter' },
    force: { kind: 'bool', short: 'f', description: 'Do not prompt for confirmation' },
    volumes: { kind: 'bool', description: 'Prune anonymous volumes' },
  },
  async run(ctx, flags) {
    const items = ['all stopped containers', 'all networks not used by at least one container'];
    if (flags.volumes) items.push('all anonymous volumes not used by at least one container');
    items.push(flags.all ? 'all images without at least one container associated to them' : 'all dangling images');
    items.push(flags.all ? 'all build cache' : 'unused build cache');
    const warning = `WARNING! This will remove:\n${items.map((i) => `  - ${i}\n`).join('')}`;
    if (!flags.force && !(await confirm(ctx, `${warning}\nAre you sure you want to continue?`))) return 0;
    const client = await ctx.client();
    const filters = parseFilters(flags.filter, '--filter');
    let reclaimed = 0;
    const containers = await client.containersPrune(filters);
    reclaimed += containers.SpaceReclaimed;
    if ((containers.ContainersDeleted ?? []).length > 0) ctx.out(`Deleted Containers:\n${(containers.ContainersDeleted ?? []).map((id) => `${id}\n`).join('')}\n`);
    const optional = async <T>(call: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await call();
      } catch (err: unknown) {
        const text = await errorText(err);
        if (!/page not found|not implemented|404/i.test(text)) ctx.err(`${text}\n`);
        return undefined;
      }
    };
    const networks = await optional(() => client.networksPrune(filters));
    if ((networks?.NetworksDeleted ?? []).length > 0) ctx.out(`Deleted Networks:\n${(networks?.NetworksDeleted ?? []).map((n) => `${n}\n`).join('')}\n`);
    if (flags.volumes) {
      const volumes = await optional(() => client.volumesPrune(filters));
      reclaimed += volumes?.SpaceReclaimed ?? 0;
      if ((volumes?.VolumesDeleted ?? []).length > 0) ctx.out(`Deleted Volumes:\n${(volumes?.VolumesDeleted ?? []).map((n) => `${n}\n`).join('')}\n`);
    }
    const images = await client.imagesPrune({ ...filters, dangling: [flags.all ? 'false' : 'true'] });
    reclaimed += images.SpaceReclaimed;
    if ((images.ImagesDeleted ?? []).length > 0) {
      ctx.out('Deleted Images:\n');
      for (const item of images.ImagesDeleted ?? []) ctx.out(item.Untagged ? `untagged: ${item.Untagged}\n` : `deleted: ${item.Deleted}\n`);
      ctx.out('\n');
    }
    const cache = await optional(() => client.buildCachePrune({ all: flags.all }));
    reclaimed += cache?.SpaceReclaimed ?? 0;
    ctx.out(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
  },
});
