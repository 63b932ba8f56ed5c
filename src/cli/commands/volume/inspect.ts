import { defineCommand, FORMAT_FLAG, StatusError } from '../../command';
import { Template } from '../../output/template';
import { unescapeFormat } from '../../output/format';
import { errorText } from '../common';
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

/** Go's json.Marshal escapes these for HTML safety; docker's output carries them so. */
function goJson(text: string): string {
  return text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export default defineCommand({
  usage: 'volume inspect [OPTIONS] VOLUME [VOLUME...]',
  description: 'Display detailed information on one or more volumes',
  minArgs: 1,
  flags: { format: { ...FORMAT_FLAG, short: 'f' } },
  /**
   * As docker's inspect.Inspect: the volumes found (a JSON array, "json" on one line, or one
   * template result each), then the daemon's errors on stderr with status 1.
   */
  async run(ctx, flags, args) {
    const client = await ctx.client();
    const found: unknown[] = [];
    const errors: string[] = [];
    for (const name of args) {
      try {
        found.push(goVolume(await client.volumeInspect(name)));
      } catch (err: unknown) {
        errors.push(await errorText(err));
      }
    }
    const format = flags.format ?? '';
    if (format === 'json') {
      ctx.out(`${goJson(JSON.stringify(found))}\n`);
    } else if (format !== '') {
      const template = new Template(unescapeFormat(format));
      for (const item of found) ctx.out(`${template.execute(item)}\n`);
    } else {
      ctx.out(`${goJson(JSON.stringify(found, null, 4))}\n`);
    }
    if (errors.length > 0) throw new StatusError(1, errors.join('\n'));
  },
});
