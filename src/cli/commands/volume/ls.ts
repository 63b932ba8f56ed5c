import { defineCommand, FORMAT_FLAG } from '../../command';
import { renderList } from '../../output/format';
import { humanSize } from '../../output/units';
import { naturalCompare } from '../../output/natural-order';
import type { Volume } from '../../../client/types';
import { parseFilters } from '../common';

const HEADERS = { Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE', Group: 'GROUP', Availability: 'AVAILABILITY', Status: 'STATUS' };
const DEFAULT_TABLE = 'table {{.Driver}}\t{{.Name}}';

/** One row of `docker volume ls` (docker's volumeContext; the cluster fields are N/A). */
class VolumeContext {
  constructor(private readonly volume: Volume) {}
  get Name(): string {
    return this.volume.Name;
  }
  get Driver(): string {
    return this.volume.Driver;
  }
  get Scope(): string {
    return this.volume.Scope;
  }
  get Mountpoint(): string {
    return this.volume.Mountpoint;
  }
  get Labels(): string {
    // docker joins them in Go's (random) map order; sorted here, so at least stable.
    return Object.entries(this.volume.Labels ?? {})
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  }
  Label(name: string): string {
    return this.volume.Labels?.[name] ?? '';
  }
  get Links(): string {
    return this.volume.UsageData ? String(this.volume.UsageData.RefCount) : 'N/A';
  }
  get Size(): string {
    const size = this.volume.UsageData?.Size ?? -1;
    return size === -1 ? 'N/A' : humanSize(size);
  }
  get Group(): string {
    return 'N/A';
  }
  get Availability(): string {
    return 'N/A';
  }
  get Status(): string {
    return 'N/A';
  }
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const key of ['Availability', 'Driver', 'Group', 'Labels', 'Links', 'Mountpoint', 'Name', 'Scope', 'Size', 'Status'] as const) out[key] = this[key];
    return out;
  }
}

export default defineCommand({
  usage: 'volume ls [OPTIONS]',
  description: 'List volumes',
  maxArgs: 0,
  flags: {
    filter: { kind: 'strings', short: 'f', description: "Provide filter values (e.g. 'dangling=true')", valueName: 'filter' },
    format: FORMAT_FLAG,
    quiet: { kind: 'bool', short: 'q', description: 'Only display volume names' },
  },
  async run(ctx, flags) {
    const client = await ctx.client();
    const list = await client.volumeList(parseFilters(flags.filter));
    const volumes = [...(list.Volumes ?? [])].sort((a, b) => naturalCompare(a.Name, b.Name));
    // As docker: -q picks the names-only table unless a --format other than "table" is given.
    let format = flags.format ?? '';
    if (flags.quiet && (format === '' || format === 'table')) format = '{{.Name}}';
    ctx.out(renderList(format, volumes.map((v) => new VolumeContext(v)), { defaultTable: DEFAULT_TABLE, headers: HEADERS }));
  },
});
