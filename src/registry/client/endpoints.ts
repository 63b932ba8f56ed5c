import { isIP } from 'node:net';
import { invalidArgument } from '../../errors';
import { DEFAULT_DOMAIN } from '../../images/reference';
import type { RegistrySettings } from './types';

/** Where docker.io's registry API actually lives. */
export const DOCKER_HUB_ENDPOINT = 'https://registry-1.docker.io';

/** One base URL a registry can be reached at. */
export interface Endpoint {
  /** e.g. https://registry-1.docker.io, http://127.0.0.1:5000 */
  base: URL;
  /** Skip TLS verification (an insecure registry over https). */
  insecureTls: boolean;
  /** A mirror serves pulls only. */
  mirror: boolean;
}

/**
 * Checks and normalises daemon registry settings as dockerd does: mirrors must be http(s)
 * URLs without a path; insecure registries are host[:port] or CIDRs, without a scheme.
 */
export function validateSettings(settings: RegistrySettings): RegistrySettings {
  const mirrors = settings.mirrors.map((m) => {
    let url: URL;
    try {
      url = new URL(m);
    } catch {
      throw invalidArgument(`invalid mirror: "${m}" is not a valid URI`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidArgument(`invalid mirror: unsupported scheme "${url.protocol.replace(/:$/, '')}" in "${m}"`);
    if (url.username || url.password) throw invalidArgument(`invalid mirror: username/password not allowed in URI "${m}"`);
    if (url.pathname !== '/' && url.pathname !== '' ) throw invalidArgument(`invalid mirror: path, query, or fragment at end of the URI "${m}"`);
    if (url.search || url.hash) throw invalidArgument(`invalid mirror: path, query, or fragment at end of the URI "${m}"`);
    return `${url.protocol}//${url.host}/`;
  });
  const insecureRegistries = settings.insecureRegistries.map((r) => {
    if (r.includes('://')) throw invalidArgument(`insecure registry ${r} should not contain '://'`);
    if (r.includes('/') && parseCidr(r) === undefined) throw invalidArgument(`insecure registry ${r} is not valid: invalid CIDR or host`);
    return r;
  });
  return { mirrors, insecureRegistries };
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => (acc << 8) + Number(part), 0) >>> 0;
}

function parseCidr(s: string): { base: number; bits: number } | undefined {
  const [ip, bitsText] = s.split('/');
  if (ip === undefined || bitsText === undefined || isIP(ip) !== 4 || !/^\d+$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  return bits <= 32 ? { base: ipv4ToInt(ip), bits } : undefined;
}

function inCidr(ip: string, cidr: { base: number; bits: number }): boolean {
  if (isIP(ip) !== 4) return false;
  const mask = cidr.bits === 0 ? 0 : (~0 << (32 - cidr.bits)) >>> 0;
  return (ipv4ToInt(ip) & mask) === (cidr.base & mask);
}

function hostnameOf(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const i = host.lastIndexOf(':');
  return i === -1 ? host : host.slice(0, i);
}

/**
 * Whether a registry host (`host[:port]`) is insecure: listed, in a listed CIDR, or on the
 * loopback (dockerd's default insecure CIDR 127.0.0.0/8, and localhost, ::1).
 */
export function isInsecure(host: string, settings: RegistrySettings): boolean {
  const hostname = hostnameOf(host);
  if (hostname === 'localhost' || hostname === '::1' || inCidr(hostname, { base: ipv4ToInt('127.0.0.0'), bits: 8 })) return true;
  for (const entry of settings.insecureRegistries) {
    if (entry === host || entry === hostname) return true;
    const cidr = parseCidr(entry);
    if (cidr !== undefined && inCidr(hostname, cidr)) return true;
  }
  return false;
}

/**
 * The endpoints for a registry host, in the order they are tried: for docker.io the mirrors
 * (pulls only) then Docker Hub; for an insecure registry https without verification, then
 * plain http (docker's order); otherwise https.
 */
export function endpointsFor(domain: string, settings: RegistrySettings, purpose: 'pull' | 'push'): Endpoint[] {
  const out: Endpoint[] = [];
  if (domain === DEFAULT_DOMAIN) {
    if (purpose === 'pull') {
      for (const m of settings.mirrors) {
        const base = new URL(m);
        out.push({ base, insecureTls: isInsecure(base.host, settings), mirror: true });
      }
    }
    out.push({ base: new URL(DOCKER_HUB_ENDPOINT), insecureTls: false, mirror: false });
    return out;
  }
  if (isInsecure(domain, settings)) {
    out.push({ base: new URL(`https://${domain}`), insecureTls: true, mirror: false });
    out.push({ base: new URL(`http://${domain}`), insecureTls: false, mirror: false });
    return out;
  }
  out.push({ base: new URL(`https://${domain}`), insecureTls: false, mirror: false });
  return out;
}
