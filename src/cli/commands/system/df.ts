import { defineCommand, FORMAT_FLAG } from '../../command';
import { renderList } from '../../output/format';
import { humanSize, shortId, timeAgo } from '../../output/units';
import { alignTabs } from '../../output/table';

const HEADERS = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };
const DEFAULT_TABLE = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';

function reclaimable(size: number, total: number): string {
  const pct = total > 0 ? Math.trunc((size * 100) / total) : 0;
  return total > 0 ? `${humanSize(size)} (${pct}%)` : humanSize(size);
}

export default defineCommand({
  usage: 'system df [OPTIONS]',
  description: 'Show docker disk usage',
  maxArgs: 0,
  flags: {
    format: FORMAT_FLAG,
    verbose: { kind: 'bool', short: 'v', description: 'Show detailed information on space usage' },
  },
  async run(ctx, flags) {
    const client = await ctx.client();
    const df = await client.systemDf();
    const images = df.Images ?? [];
    const containers = df.Containers ?? [];
    const volumes = df.Volumes ?? [];
    const cache = df.BuildCache ?? [];
    if (flags.verbose) {
      const imageRows = ['REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS'];
      for (const image of images) {
        const tags = image.RepoTags && image.RepoTags.length > 0 ? image.RepoTags : ['<none>:<none>'];
        for (const tag of tags) {
          const colon = tag.lastIndexOf(':');
          imageRows.push([tag.slice(0, colon), tag.slice(colon + 1), shortId(image.Id), timeAgo(image.Created), humanSize(image.Size), humanSize(image.SharedSize), humanSize(image.Size - image.SharedSize), String(image.Containers)].join('\t'));
        }
      }
      const containerRows = ['CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES'];
      for (const c of containers) {
        containerRows.push([shortId(c.Id), c.Image, JSON.stringify(c.Command.length > 20 ? `${c.Command.slice(0, 19)}…` : c.Command), String(c.Mounts.length), humanSize(c.SizeRw ?? 0), timeAgo(c.Created), c.Status, c.Names.map((n) => n.replace(/^\//, '')).join(',')].join('\t'));
      }
      const volumeRows = ['VOLUME NAME\tLINKS\tSIZE'];
      for (const v of volumes) volumeRows.push([v.Name, String(v.UsageData?.RefCount ?? 0), humanSize(v.UsageData?.Size ?? 0)].join('\t'));
      ctx.out(`Images space usage:\n\n${alignTabs(imageRows.join('\n'))}\n\nContainers space usage:\n\n${alignTabs(containerRows.join('\n'))}\n\nLocal Volumes space usage:\n\n${alignTabs(volumeRows.join('\n'))}\n\nBuild cache usage: ${humanSize(cache.reduce((n, c) => n + c.Size, 0))}\n`);
      return;
    }
    const imageSize = df.LayersSize ?? images.reduce((n, i) => n + i.Size - i.SharedSize, 0);
    const activeImages = images.filter((i) => i.Containers > 0);
    const imageReclaim = imageSize - activeImages.reduce((n, i) => n + i.Size - i.SharedSize, 0);
    const containerSize = containers.reduce((n, c) => n + (c.SizeRw ?? 0), 0);
    const runningContainers = containers.filter((c) => c.State === 'running');
    const containerReclaim = containers.filter((c) => c.State !== 'running').reduce((n, c) => n + (c.SizeRw ?? 0), 0);
    const volumeSize = volumes.reduce((n, v) => n + Math.max(v.UsageData?.Size ?? 0, 0), 0);
    const activeVolumes = volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0);
    const volumeReclaim = volumes.filter((v) => (v.UsageData?.RefCount ?? 0) === 0).reduce((n, v) => n + Math.max(v.UsageData?.Size ?? 0, 0), 0);
    const cacheSize = cache.reduce((n, c) => n + c.Size, 0);
    const rows = [
      { Type: 'Images', TotalCount: String(images.length), Active: String(activeImages.length), Size: humanSize(imageSize), Reclaimable: reclaimable(imageReclaim, imageSize) },
      { Type: 'Containers', TotalCount: String(containers.length), Active: String(runningContainers.length), Size: humanSize(containerSize), Reclaimable: reclaimable(containerReclaim, containerSize) },
      { Type: 'Local Volumes', TotalCount: String(volumes.length), Active: String(activeVolumes.length), Size: humanSize(volumeSize), Reclaimable: reclaimable(volumeReclaim, volumeSize) },
      { Type: 'Build Cache', TotalCount: String(cache.length), Active: String(cache.filter((c) => c.InUse).length), Size: humanSize(cacheSize), Reclaimable: humanSize(cache.filter((c) => !c.InUse && !c.Shared).reduce((n, c) => n + c.Size, 0)) },
    ];
    ctx.out(renderList(flags.format ?? '', rows, { defaultTable: DEFAULT_TABLE, headers: HEADERS }));
  },
});
