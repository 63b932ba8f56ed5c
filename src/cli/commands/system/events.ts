import { defineCommand, FORMAT_FLAG } from '../../command';
import { Template } from '../../output/template';
import { unescapeFormat } from '../../output/format';
import { parseTimestampFlag } from '../../output/units';
import type { EventMessage } from '../../../client/types';
import { parseFilters } from '../common';

/** docker's default event line: "2024-01-02T15:04:05.000000000Z container start <id> (image=x, name=y)". */
export function formatEvent(event: EventMessage): string {
  const seconds = Math.trunc(event.timeNano / 1e9);
  const nanos = String(event.timeNano % 1e9).padStart(9, '0');
  const iso = new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  const offset = -new Date().getTimezoneOffset();
  const zone = offset === 0 ? 'Z' : `${offset > 0 ? '+' : '-'}${String(Math.trunc(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
  const attrs = Object.keys(event.Actor.Attributes ?? {}).sort().map((k) => `${k}=${event.Actor.Attributes[k]}`);
  return `${iso}.${nanos}${zone} ${event.Type} ${event.Action} ${event.Actor.ID}${attrs.length > 0 ? ` (${attrs.join(', ')})` : ''}`;
}

export default defineCommand({
  usage: 'events [OPTIONS]',
  description: 'Get real time events from the server',
  maxArgs: 0,
  flags: {
    filter: { kind: 'strings', short: 'f', description: 'Filter output based on conditions provided', valueName: 'filter' },
    format: FORMAT_FLAG,
    since: { kind: 'string', description: 'Show all events created since timestamp' },
    until: { kind: 'string', description: 'Stream events until this timestamp' },
  },
  async run(ctx, flags) {
    const client = await ctx.client();
    const template = flags.format && flags.format !== 'json' ? new Template(unescapeFormat(flags.format)) : undefined;
    for await (const event of client.events({
      since: flags.since ? parseTimestampFlag(flags.since) : undefined,
      until: flags.until ? parseTimestampFlag(flags.until) : undefined,
      filters: parseFilters(flags.filter),
    })) {
      ctx.out(`${flags.format === 'json' ? JSON.stringify(event) : template ? template.execute(event) : formatEvent(event)}\n`);
    }
  },
});
