import { defineCommand, FORMAT_FLAG } from '../../command';
import { inspectEach } from '../inspect-objects';
import type { Volume } from '../../../client/types';

/** Sorts a map's keys, as Go's encoding/json does. */
function sortedMap<T>(map: Record<string, T> | null | undefined): Record<string, T> | null {
  if (map === null || map === undefined) return null;
  return Object.fromEntries(Object.keys(map).sort().map((k) => [k, map[k]!]));
}

/**
 * The volume as docker's CLI prints it: decoded into Go's volume.Volume and encoded again,
 * so fields come in the struct's order, maps sorted, empty optional fields left out.
 */
function goVolume(v: Volume & { ClusterVolume?: unknown; Status?: Record<string, unknown> | null }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (v.ClusterVolume) out.ClusterVolume = v.ClusterVolume;
  if (v.CreatedAt) out.CreatedAt = v.CreatedAt;
  Object.assign(out, { Driver: v.Driver, Labels: sortedMap(v.Labels), Mountpoint: v.Mountpoint, Name: v.Name, Options: sortedMap(v.Options), Scope: v.Scope });
  if (v.Status && Object.keys(v.Status).length > 0) out.Status = sortedMap(v.Status);
  if (v.UsageData) out.UsageData = { RefCount: v.UsageData.RefCount, Size: v.UsageData.Size };
  // Left out of the JSON but still there for a template, as Go's zero values: "<nil>", "map[]".
  for (const [key, zero] of [['ClusterVolume', null], ['Status', {}], ['UsageData', null]] as const) {
    if (!(key in out)) Object.defineProperty(out, key, { value: zero, enumerable: false });
  }
  return out;
}

export default defineCommand({
  usage: 'volume inspect [OPTIONS] VOLUME [VOLUME...]',
  description: 'Display detailed information on one or more volumes',
  minArgs: 1,
  flags: { format: { ...FORMAT_FLAG, short: 'f' } },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    await inspectEach(ctx, args, flags.format ?? '', async (name) => goVolume(await client.volumeInspect(name)));
  },
});
