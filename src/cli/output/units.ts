/** Human sizes and durations as docker prints them (github.com/docker/go-units). */

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** Go's `%.<precision>g` for the magnitudes sizes produce: significant digits, no trailing zeros. */
export function formatG(value: number, precision: number): string {
  if (value === 0) return '0';
  let text = value.toPrecision(precision);
  if (text.includes('e')) {
    const [mantissa, exp] = text.split('e') as [string, string];
    const m = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
    const sign = exp.startsWith('-') ? '-' : '+';
    const digits = exp.replace(/^[+-]/, '').padStart(2, '0');
    return `${m}e${sign}${digits}`;
  }
  if (text.includes('.')) text = text.replace(/\.?0+$/, '');
  return text;
}

function customSize(size: number, precision: number, base: number, units: string[]): string {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return `${formatG(size, precision)}${units[i]}`;
}

/** go-units HumanSizeWithPrecision: decimal units, e.g. "1.23MB". */
export function humanSize(bytes: number, precision = 4): string {
  return customSize(bytes, precision, 1000, DECIMAL_UNITS);
}

/** go-units BytesSize: binary units, e.g. "1.5GiB". */
export function bytesSize(bytes: number): string {
  return customSize(bytes, 4, 1024, BINARY_UNITS);
}

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
