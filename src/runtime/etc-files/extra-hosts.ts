import { isIP } from 'node:net';
import { invalidArgument } from '../../errors';

/** The special address of `--add-host name:host-gateway` (moby opts.HostGatewayName). */
export const HOST_GATEWAY = 'host-gateway';

export interface ExtraHost {
  host: string;
  /** An IPv4/IPv6 address, or `host-gateway`. */
  ip: string;
}

/**
 * One `--add-host` entry as moby's opts.ValidateExtraHost reads it: `name:ip` split on the
 * first `:` (so IPv6 addresses keep theirs) or, as docker 25+ also takes, `name=ip`; an
 * IPv6 address may be written in brackets. A bad entry is a 400 naming it.
 */
export function parseExtraHost(entry: string): ExtraHost {
  const separator = entry.includes('=') ? entry.indexOf('=') : entry.indexOf(':');
  if (separator <= 0) throw invalidArgument(`bad format for add-host: "${entry}"`);
  const host = entry.slice(0, separator);
  const ip = entry.slice(separator + 1).replace(/^\[(.*)\]$/, '$1');
  if (ip !== HOST_GATEWAY && isIP(ip) === 0) throw invalidArgument(`invalid IP address in add-host: "${ip}"`);
  return { host, ip };
}

/**
 * The entries with `host-gateway` replaced by the host's address as containers reach it (the
 * default bridge's gateway, as dockerd's HostGatewayIP); without one that is dockerd's error.
 */
export function resolveExtraHosts(entries: readonly string[], hostGateway: string | undefined): ExtraHost[] {
  return entries.map(parseExtraHost).map((e) => {
    if (e.ip !== HOST_GATEWAY) return e;
    if (!hostGateway) throw invalidArgument('unable to derive the IP value for host-gateway');
    return { host: e.host, ip: hostGateway };
  });
}
