import { invalidArgument } from '../../errors';

/** Docker's image filter values shared by list and prune. */

/** label=key or label=key=value (all must match); label!=... is not in Docker's image filters. */
export function matchLabels(filters: string[], labels: Record<string, string>): boolean {
  return filters.every((f) => {
    const eq = f.indexOf('=');
    if (eq === -1) return f in labels;
    return labels[f.slice(0, eq)] === f.slice(eq + 1);
  });
}

/** `until`: unix seconds, RFC 3339, or a Go duration ("10m", "24h") before now. */
export function parseUntil(value: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Math.floor(Number(value));
  const duration = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$/.exec(value);
  if (duration) {
    const factor = { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 }[duration[2] as 'ns' | 'us' | 'ms' | 's' | 'm' | 'h'];
    return Math.floor(Date.now() / 1000 - Number(duration[1]) * factor);
  }
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw invalidArgument(`invalid filter 'until=${value}'`);
  return Math.floor(ms / 1000);
}
