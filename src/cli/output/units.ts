/** Human sizes and durations as docker prints them (github.com/docker/go-units). */

export { formatG, humanSize, bytesSize } from '../../util/human-size';

/** "3 minutes ago" for a Unix time in seconds (docker ps CREATED, images CREATED). */
export function timeAgo(unixSeconds: number, now = Date.now()): string {
  return `${humanDuration(now - unixSeconds * 1000)} ago`;
}

export { humanDuration, containerStatusText, ZERO_TIME } from '../../util/human-time';
export type { StateForStatus } from '../../util/human-time';
import { humanDuration } from '../../util/human-time';


/** docker's stringid.TruncateID: drop the algorithm and keep 12 hex digits. */
export function shortId(id: string): string {
  const colon = id.indexOf(':');
  const hex = colon === -1 ? id : id.slice(colon + 1);
  return hex.slice(0, 12);
}

/** Parses "10s", "5m", "1h30m" (Go durations) or RFC 3339 / unix timestamps, as docker's --since does. */
export function parseTimestampFlag(value: string, now = Date.now()): string {
  if (value === '') return value;
  const duration = parseGoDuration(value);
  if (duration !== undefined) return String(Math.floor((now - duration) / 1000));
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new Error(`invalid value for "since": failed to parse value as time or duration: "${value}"`);
  return String(Math.floor(parsed / 1000));
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration, in milliseconds; undefined when the text is not a duration. */
export function parseGoDuration(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  let sign = 1;
  if (text.startsWith('-')) {
    sign = -1;
    pos = 1;
  }
  if (pos >= text.length) return undefined;
  while (pos < text.length) {
    re.lastIndex = pos;
    const match = re.exec(text);
    if (!match) return undefined;
    total += Number(match[1]) * DURATION_UNITS[match[2]!]!;
    pos = re.lastIndex;
  }
  return sign * total;
}

/** Parses docker's memory flags ("512m", "1g", "100000"): binary units, bytes. */
export function parseMemoryBytes(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgtp]?)i?b?$/i.exec(text.trim());
  if (!match) throw new Error(`invalid size: '${text}'`);
  const power = 'bkmgtp'.indexOf((match[2] || 'b').toLowerCase());
  return Math.trunc(Number(match[1]) * 1024 ** power);
}
