import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../util/atomic-fs';
import { isENOENT } from '../../errors';

/**
 * The /etc files Docker manages for a container. Each is written on the host in the
 * container's own dir and bind-mounted over the image's file, so the image stays untouched
 * and `docker cp`/restarts see one consistent copy.
 */

/** Docker's /etc/hosts head (libnetwork etchosts defaultContent). */
export const DEFAULT_HOSTS_LINES: readonly string[] = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

export interface HostsOptions {
  hostname: string;
  domainname?: string;
  /** The container's address on its network; with none (e.g. --network none) Docker writes no hostname line. */
  ip?: string;
  /** --add-host entries. */
  extraHosts?: Array<{ host: string; ip: string }>;
}

export function hostnameContent(hostname: string): string {
  return `${hostname}\n`;
}

export function hostsContent(o: HostsOptions): string {
  const lines = [...DEFAULT_HOSTS_LINES];
  for (const e of o.extraHosts ?? []) lines.push(`${e.ip}\t${e.host}`);
  if (o.ip) {
    const names = o.domainname ? `${o.hostname}.${o.domainname} ${o.hostname}` : o.hostname;
    lines.push(`${o.ip}\t${names}`);
  }
  return lines.join('\n') + '\n';
}

export const DEFAULT_IPV4_NAMESERVERS: readonly string[] = ['8.8.8.8', '8.8.4.4'];
export const DEFAULT_IPV6_NAMESERVERS: readonly string[] = ['2001:4860:4860::8888', '2001:4860:4860::8844'];

export interface ResolvConfOptions {
  /** The host's resolv.conf text. */
  hostResolvConf: string;
  /** --network host: the host's file unchanged. */
  hostNetwork?: boolean;
  ipv6?: boolean;
  /** --dns, --dns-search, --dns-option override the host's values. */
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
}

const isLoopback = (ns: string) => /^127\./.test(ns) || ns === '::1' || ns === '0:0:0:0:0:0:0:1';
const isIPv6 = (ns: string) => ns.includes(':');

/**
 * The container's resolv.conf, as libnetwork builds it: the host's file with loopback
 * nameservers removed (they mean nothing in another netns) and IPv6 ones removed unless
 * IPv6 is on; Google's public DNS when nothing is left.
 */
export function resolvConfContent(o: ResolvConfOptions): string {
  if (o.hostNetwork && !o.dns?.length && !o.dnsSearch?.length && !o.dnsOptions?.length) return o.hostResolvConf;
  const kept: string[] = [];
  let nameservers: string[] = [];
  let search: string[] | undefined;
  let options: string[] | undefined;
  for (const line of o.hostResolvConf.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === 'nameserver' && fields[1]) nameservers.push(fields[1]);
    else if ((fields[0] === 'search' || fields[0] === 'domain') && fields.length > 1) search = fields.slice(1);
    else if (fields[0] === 'options' && fields.length > 1) options = [...(options ?? []), ...fields.slice(1)];
    else if (line.trim().startsWith('#') || line.trim().startsWith(';')) kept.push(line.trim());
  }
  if (o.dns?.length) nameservers = [...o.dns];
  else {
    nameservers = nameservers.filter((ns) => !isLoopback(ns) && (o.ipv6 || !isIPv6(ns)));
    if (nameservers.length === 0) nameservers = [...DEFAULT_IPV4_NAMESERVERS, ...(o.ipv6 ? DEFAULT_IPV6_NAMESERVERS : [])];
  }
  if (o.dnsSearch?.length) search = o.dnsSearch.filter((s) => s !== '.');
  if (o.dnsOptions?.length) options = [...o.dnsOptions];
  const out = [...kept];
  for (const ns of nameservers) out.push(`nameserver ${ns}`);
  if (search?.length) out.push(`search ${search.join(' ')}`);
  if (options?.length) out.push(`options ${options.join(' ')}`);
  return out.join('\n') + '\n';
}

/** Reads the host's resolv.conf, preferring systemd-resolved's real upstream list like Docker. */
export async function readHostResolvConf(): Promise<string> {
  for (const file of ['/etc/resolv.conf']) {
    try {
      // Synchronous: a small file the page cache holds, read at every create and start
      // (fs.readFile is four round trips through the thread pool, ~0.3 ms each).
      const text = readFileSync(file, 'utf8');
      if (/^\s*nameserver\s+127\.0\.0\.53\b/m.test(text)) {
        try {
          return readFileSync('/run/systemd/resolve/resolv.conf', 'utf8');
        } catch {
          return text;
        }
      }
      return text;
    } catch (err: unknown) {
      if (!isENOENT(err)) throw err;
    }
  }
  return '';
}

export interface EtcFilePaths {
  hostname: string;
  hosts: string;
  resolvConf: string;
}

export interface EtcFilesContent {
  hostname: string;
  hosts: string;
  resolvConf: string;
}

/** Writes the three files (atomically, not fsynced) into `dir`; returns their host paths for the spec's bind mounts. */
export async function writeEtcFiles(dir: string, content: EtcFilesContent): Promise<EtcFilePaths> {
  mkdirSync(dir, { recursive: true });
  const paths: EtcFilePaths = {
    hostname: path.join(dir, 'hostname'),
    hosts: path.join(dir, 'hosts'),
    resolvConf: path.join(dir, 'resolv.conf'),
  };
  // Rewritten before every start, so atomic without fsync: a machine crash that loses
  // them also ends the container, and the next start writes them again.
  await Promise.all([
    writeUnlessSame(paths.hostname, content.hostname),
    writeUnlessSame(paths.hosts, content.hosts),
    writeUnlessSame(paths.resolvConf, content.resolvConf),
  ]);
  return paths;
}

/**
 * A file that already holds `content` (written at create, or by the last start) is left as it
 * is: reading it back costs microseconds, where replacing it costs a rename over it (ext4 then
 * starts writing the new data out). Anything else (missing, edited, stale) is replaced whole.
 */
async function writeUnlessSame(file: string, content: string): Promise<void> {
  try {
    if (readFileSync(file, 'utf8') === content) return;
  } catch {
    // missing or unreadable: written below
  }
  await writeFileAtomic(file, content, 0o644, { durable: false });
}
