/** Where `berth registry serve` listens without --addr (its other settings: serve-config.ts). */
export const DEFAULT_ADDR = '127.0.0.1:5000';

/** HOST:PORT (IPv6 as [::1]:PORT). */
export function parseAddr(addr: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(addr);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new Error(`invalid listen address ${JSON.stringify(addr)}: expected HOST:PORT`);
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}
