import { defineCommand, FORMAT_FLAG } from '../../command';
import { renderList } from '../../output/format';
import { naturalCompare } from '../../output/natural-order';
import type { NetworkResource } from '../../../client/types';
import { parseFilters } from '../common';

const HEADERS = { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv4: 'IPV4', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED AT' };
const DEFAULT_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';

/**
 * Go's time.Time String() of an RFC 3339 time as the JSON decoder keeps it (its own zone):
 * "2024-01-02T15:04:05.5Z" → "2024-01-02 15:04:05.5 +0000 UTC".
 */
function goTimeString(rfc3339: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(rfc3339);
  if (!m) return rfc3339;
  const fraction = (m[3] ?? '').replace(/0+$/, '').replace(/^\.$/, '');
  const zone = m[4] === 'Z' ? '+0000 UTC' : `${m[4]!.replace(':', '')} ${m[4]!.replace(':', '')}`;
  return `${m[1]} ${m[2]}${fraction} ${zone}`;
}

/** One row of `docker network ls` (docker's networkContext). */
class NetworkContext {
  constructor(
    private readonly network: NetworkResource,
    private readonly trunc: boolean,
  ) {}
  get ID(): string {
    return this.trunc ? this.network.Id.slice(0, 12) : this.network.Id;
  }
  get Name(): string {
    return this.network.Name;
  }
  get Driver(): string {
    return this.network.Driver;
  }
  get Scope(): string {
    return this.network.Scope;
  }
  get IPv4(): string {
    return String((this.network as { EnableIPv4?: boolean }).EnableIPv4 ?? false);
  }
  get IPv6(): string {
    return String(this.network.EnableIPv6);
  }
  get Internal(): string {
    return String(this.network.Internal);
  }
  get Labels(): string {
    return Object.entries(this.network.Labels ?? {})
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  }
  Label(name: string): string {
    return this.network.Labels?.[name] ?? '';
  }
  get CreatedAt(): string {
    return goTimeString(this.network.Created);
  }
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const key of ['CreatedAt', 'Driver', 'ID', 'IPv4', 'IPv6', 'Internal', 'Labels', 'Name', 'Scope'] as const) out[key] = this[key];
    return out;
  }
}

export default defineCommand({
  usage: 'network ls [OPTIONS]',
  description: 'List networks',
  maxArgs: 0,
  flags: {
    filter: { kind: 'strings', short: 'f', description: "Provide filter values (e.g. 'driver=bridge')", valueName: 'filter' },
    format: FORMAT_FLAG,
    'no-trunc': { kind: 'bool', description: 'Do not truncate the output' },
    quiet: { kind: 'bool', short: 'q', description: 'Only display network IDs' },
  },
  async run(ctx, flags) {
    const client = await ctx.client();
    const networks = [...(await client.networkList(parseFilters(flags.filter)))].sort((a, b) => naturalCompare(a.Name, b.Name));
    let format = flags.format ?? '';
    if (flags.quiet && (format === '' || format === 'table')) format = '{{.ID}}';
    ctx.out(renderList(format, networks.map((n) => new NetworkContext(n, !flags['no-trunc'])), { defaultTable: DEFAULT_TABLE, headers: HEADERS }));
  },
});
