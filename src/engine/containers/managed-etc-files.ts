import type { ContainerRecord } from '../../metadata/containers';
import { errnoCode } from '../../errors';
import { native } from '../../native';
import { closeFd, openInRoot } from '../../util/fs-at';
import { type EtcFilePaths, hostnameContent, hostsContent, readHostResolvConf, resolveExtraHosts, resolvConfContent, writeEtcFiles } from '../../runtime/etc-files';
import type { ContainerConfig, HostConfig } from './create-config';
import { normalizeNetworkMode } from './create-config';

/** The files berth manages in every container, bind-mounted over these paths at start. */
export const MANAGED_ETC_FILES = ['hostname', 'hosts', 'resolv.conf'] as const;

/**
 * Writes the managed /etc files (hostname, hosts, resolv.conf) into the container's dir:
 * at create, so the paths inspect names exist from then on, and again before every start.
 * `hostGateway` is the address `--add-host name:host-gateway` stands for.
 */
export async function writeManagedEtcFiles(container: ContainerRecord<ContainerConfig, HostConfig>, containerDir: string, address?: string, nameserver?: string, hostGateway?: string, linkHosts: Array<{ host: string; ip: string }> = []): Promise<EtcFilePaths> {
  const config = container.Config;
  const host = container.HostConfig;
  const hostname = config.Hostname || container.Id.slice(0, 12);
  return writeEtcFiles(containerDir, {
    hostname: hostnameContent(hostname),
    hosts: hostsContent({
      hostname,
      domainname: config.Domainname || undefined,
      ...(address ? { ip: address } : {}),
      extraHosts: [...resolveExtraHosts(host.ExtraHosts ?? [], hostGateway), ...linkHosts],
    }),
    resolvConf: resolvConfContent({
      hostResolvConf: await readHostResolvConf(),
      hostNetwork: normalizeNetworkMode(host.NetworkMode) === 'host',
      // On a user-defined network the embedded DNS answers (names there, the rest forwarded to
      // --dns or the host's resolvers), as in Docker: --dns does not replace it in resolv.conf.
      dns: nameserver ? [nameserver] : host.Dns?.length ? host.Dns : undefined,
      dnsSearch: host.DnsSearch ?? undefined,
      dnsOptions: nameserver ? embeddedDnsOptions(host.DnsOptions ?? []) : host.DnsOptions?.length ? host.DnsOptions : undefined,
    }),
  });
}

/**
 * Creates the mount points of the managed files in a new container's root, as Docker's init
 * layer does: empty files, mode 0755, only where the image has none. So `docker cp` and
 * `GET …/archive` find /etc/hosts, /etc/hostname and /etc/resolv.conf in a container that was
 * never started. Works on fds: /etc is looked up inside the root, the files are made with
 * O_EXCL|O_NOFOLLOW in it. An image whose /etc is not a directory is left alone (start fails
 * there with runc's message, as in Docker).
 */
export function createEtcMountPoints(rootFd: number): void {
  const C = native.constants;
  let etcFd: number;
  try {
    etcFd = openInRoot(rootFd, '/etc', { directory: true });
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') return;
    native.mkdirat(rootFd, 'etc', 0o755);
    etcFd = openInRoot(rootFd, '/etc', { directory: true });
  }
  try {
    for (const name of MANAGED_ETC_FILES) {
      try {
        closeFd(native.openat(etcFd, name, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o755));
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
      }
    }
  } finally {
    closeFd(etcFd);
  }
}

/** libnetwork's options with the embedded resolver: the user's, and ndots:0 unless they set ndots. */
function embeddedDnsOptions(options: readonly string[]): string[] {
  return options.some((o) => o.startsWith('ndots:')) ? [...options] : [...options, 'ndots:0'];
}
