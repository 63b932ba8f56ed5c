import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import type { ContainerRecord } from '../../metadata/containers';
import type { ContainerConfig, HostConfig } from './create-config';
import { normalizeNetworkMode, parseBind, replaceOrAppendEnv } from './create-config';
import type { ContainerMountConfig, ContainerRuntimeConfig, NetworkConfig, ResourceConfig } from '../../runtime/spec/container-config';
import type { Resources } from '../../api/types/containers';
import type { OciSpec } from '../../runtime/spec/oci-types';
import { buildSpec } from '../../runtime/spec/build-spec';
import { processUser, resolveUser } from '../../runtime/user/resolve-user';
import { findInitBinary } from '../../runtime/init/init-binary';
import { writeManagedEtcFiles } from './managed-etc-files';
import type { LocalVolumes } from '../../volumes/local-volumes';
import { invalidArgument, isENOENT } from '../../errors';
import { native } from '../../native';

export interface PrepareSpecInput extends SpecNetworkInput {
  container: ContainerRecord<ContainerConfig, HostConfig>;
  containerDir: string;
  rootfsPath: string;
  volumes: LocalVolumes;
  /**
   * The network inputs when they are still being made (the sandbox is set up while the rest
   * of the spec is built); they then replace the fields below.
   */
  network?: Promise<SpecNetworkInput>;
}

/** What the container's networks give its /etc files and environment. */
export interface SpecNetworkInput {
  /** The container's addresses on its networks (the first goes into its /etc/hosts). */
  addresses?: string[];
  /** The embedded DNS server of its user-defined network, for its resolv.conf. */
  nameserver?: string;
  /** The address `--add-host name:host-gateway` stands for. */
  hostGateway?: string;
  /** Legacy links (`--link`): their /etc/hosts entries and environment. */
  links?: { hosts: Array<{ host: string; ip: string }>; env: string[] };
}

/**
 * Turns a container record into its OCI spec: resolves the user inside the image, writes
 * the managed /etc files, and maps Docker's HostConfig onto the runtime's config.
 */
export async function prepareRuntimeSpec(input: PrepareSpecInput): Promise<OciSpec> {
  const { container, containerDir, rootfsPath } = input;
  const config = container.Config;
  const host = container.HostConfig;
  const networkMode = normalizeNetworkMode(host.NetworkMode);
  const hostname = config.Hostname || container.Id.slice(0, 12);
  const cwd = config.WorkingDir || '/';
  // Independent reads and writes (the image's passwd, the managed /etc files, volume and bind
  // sources, the working dir), overlapped: they are on the start path of every run. Only the
  // /etc files wait for the network.
  const network = input.network ?? Promise.resolve(input);
  const [user, [etcFiles, net], mounts] = await Promise.all([
    resolveUser(rootfsPath, config.User ?? '', host.GroupAdd ?? []),
    network.then(async (net) => [await writeManagedEtcFiles(container, containerDir, net.addresses?.[0], net.nameserver, net.hostGateway, net.links?.hosts), net] as const),
    resolveMounts(container, input.volumes),
    ensureWorkingDir(rootfsPath, cwd),
  ]);
  const runtimeConfig: ContainerRuntimeConfig = {
    id: container.Id,
    rootfsPath,
    args: [container.Path, ...container.Args],
    // A link's variables come first, so the container's own override them (moby's CreateDaemonEnvironment).
    env: withDefaultEnv(net.links?.env.length ? replaceOrAppendEnv(net.links.env, config.Env ?? []) : (config.Env ?? []), hostname, Boolean(config.Tty), user.home),
    cwd,
    user: processUser(user),
    hostname,
    domainname: config.Domainname || undefined,
    tty: Boolean(config.Tty),
    openStdin: Boolean(config.OpenStdin),
    readonlyRootfs: Boolean(host.ReadonlyRootfs),
    privileged: Boolean(host.Privileged),
    capAdd: host.CapAdd ?? [],
    capDrop: host.CapDrop ?? [],
    securityOpt: host.SecurityOpt ?? [],
    mounts,
    etcFiles,
    network: networkFor(networkMode),
    ipcMode: host.IpcMode === 'host' ? 'host' : 'private',
    pidMode: host.PidMode === 'host' ? 'host' : 'private',
    utsMode: host.UTSMode === 'host' ? 'host' : 'private',
    resources: resourceConfig(host),
    cgroupsPath: containerCgroupsPath(container.Id),
    shmSize: host.ShmSize || undefined,
    sysctls: host.Sysctls ?? undefined,
    ulimits: (host.Ulimits ?? []).map((u) => ({ name: u.Name ?? '', soft: u.Soft ?? 0, hard: u.Hard ?? 0 })),
    oomScoreAdj: host.OomScoreAdj ?? 0,
    init: host.Init ? findInitBinary() : undefined,
    devices: (host.Devices ?? []).map((d) => ({
      pathOnHost: d.PathOnHost ?? '',
      pathInContainer: d.PathInContainer || d.PathOnHost || '',
      permissions: d.CgroupPermissions || 'rwm',
    })),
    deviceCgroupRules: host.DeviceCgroupRules ?? [],
  };
  if (runtimeConfig.ipcMode === 'host') {
    // dockerd's setupIpcDirs: the host's /dev/shm is bind-mounted, so it must exist (its /dev/mqueue need not).
    await fs.stat('/dev/shm').catch(() => {
      throw invalidArgument('/dev/shm is not mounted, but must be for --ipc=host');
    });
  }
  return buildSpec(runtimeConfig);
}

/** A container's cgroup path (relative to each hierarchy's root); it also identifies its processes. */
export function containerCgroupsPath(id: string): string {
  return `/berth/${id}`;
}

/** Docker's resource fields in the runtime's terms. */
export function resourceConfig(host: Resources): ResourceConfig {
  return {
    memory: host.Memory || undefined,
    memorySwap: host.MemorySwap || undefined,
    memoryReservation: host.MemoryReservation || undefined,
    cpuShares: host.CpuShares || undefined,
    nanoCpus: host.NanoCpus || undefined,
    cpuQuota: host.CpuQuota || undefined,
    cpuPeriod: host.CpuPeriod || undefined,
    cpusetCpus: host.CpusetCpus || undefined,
    cpusetMems: host.CpusetMems || undefined,
    pidsLimit: host.PidsLimit && host.PidsLimit > 0 ? host.PidsLimit : undefined,
    blkioWeight: host.BlkioWeight || undefined,
  };
}

function networkFor(mode: 'none' | 'host' | 'default'): NetworkConfig {
  if (mode === 'host') return { mode: 'host' };
  // Bridge, user networks and container:<id> join the namespace the network hook hands in.
  return mode === 'none' ? { mode: 'none' } : { mode: 'private' };
}

/**
 * The process environment as dockerd builds it (CreateDaemonEnvironment): PATH, HOSTNAME
 * (and TERM with a TTY) as defaults, the container's env replacing or appending by key, an
 * entry without "=" unsetting its key, and HOME from the user's passwd entry when unset
 * (runc's rule).
 */
export function withDefaultEnv(env: string[], hostname: string, tty: boolean, home: string | undefined): string[] {
  const defaults = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `HOSTNAME=${hostname}`];
  if (tty) defaults.push('TERM=xterm');
  const result = replaceOrAppendEnv(defaults, env);
  if (!result.some((e) => e.startsWith('HOME='))) result.push(`HOME=${home || '/root'}`);
  return result;
}

/** The container's volume, bind and tmpfs mounts, volumes created and missing bind sources made as Docker does. */
export async function resolveMounts(container: Pick<ContainerRecord<ContainerConfig, HostConfig>, 'HostConfig' | 'AnonymousVolumes' | 'SharedMounts'>, volumes: LocalVolumes): Promise<ContainerMountConfig[]> {
  const host = container.HostConfig;
  const anonymous = container.AnonymousVolumes ?? {};
  const mounts: ContainerMountConfig[] = [];
  for (const spec of host.Binds ?? []) {
    const bind = parseBind(spec);
    if (bind.type === 'bind') {
      await fs.stat(bind.source).catch(async (err: unknown) => {
        // Docker creates a missing bind source as a directory.
        if (isENOENT(err)) await fs.mkdir(bind.source, { recursive: true });
        else throw err;
      });
      mounts.push({ type: 'bind', source: bind.source, destination: bind.destination, readonly: bind.readonly });
    } else {
      mounts.push({ type: 'volume', source: await volumes.ensure(bind.source), destination: bind.destination, readonly: bind.readonly });
    }
  }
  for (const mount of host.Mounts ?? []) {
    const target = mount.Target;
    if (!target || !path.isAbsolute(target)) throw invalidArgument(`invalid mount config: target must be an absolute path`);
    if (mount.Type === 'tmpfs') {
      mounts.push({ type: 'tmpfs', source: 'tmpfs', destination: target, readonly: Boolean(mount.ReadOnly) });
    } else if (mount.Type === 'volume') {
      const name = mount.Source || anonymous[path.posix.normalize(target)];
      if (!name) throw invalidArgument('invalid mount config for type "volume": the container has no volume for ' + target);
      mounts.push({ type: 'volume', source: await volumes.ensure(name), destination: target, readonly: Boolean(mount.ReadOnly) });
    } else {
      if (!mount.Source || !path.isAbsolute(mount.Source)) throw invalidArgument(`invalid mount config for type "bind": invalid mount path: '${mount.Source ?? ''}'`);
      await fs.stat(mount.Source).catch(() => {
        throw invalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${mount.Source}`);
      });
      mounts.push({ type: 'bind', source: mount.Source, destination: target, readonly: Boolean(mount.ReadOnly) });
    }
  }
  for (const [target, options] of Object.entries(host.Tmpfs ?? {})) {
    mounts.push({ type: 'tmpfs', source: 'tmpfs', destination: target, readonly: false, options: options ? options.split(',') : [] });
  }
  // What --volumes-from shares (resolved at create), where the container's own mounts leave room.
  const own = new Set(mounts.map((m) => path.posix.normalize(m.destination)));
  for (const mount of container.SharedMounts ?? []) {
    const target = path.posix.normalize(mount.Target ?? '');
    if (own.has(target)) continue;
    const readonly = Boolean(mount.ReadOnly);
    if (mount.Type === 'volume') mounts.push({ type: 'volume', source: await volumes.ensure(mount.Source ?? ''), destination: target, readonly });
    else if (mount.Type === 'tmpfs') mounts.push({ type: 'tmpfs', source: 'tmpfs', destination: target, readonly });
    else mounts.push({ type: 'bind', source: mount.Source ?? '', destination: target, readonly });
  }
  // The config's Volumes (image VOLUME, `-v /path`) get the container's own volumes.
  const taken = new Set(mounts.map((m) => path.posix.normalize(m.destination)));
  for (const [target, name] of Object.entries(anonymous)) {
    if (!taken.has(target)) mounts.push({ type: 'volume', source: await volumes.ensure(name), destination: target, readonly: false });
  }
  return mounts;
}

/** Docker creates the working directory inside the container when it is missing. */
async function ensureWorkingDir(rootfsPath: string, cwd: string): Promise<void> {
  const hostPath = native.resolveInRoot(rootfsPath, cwd);
  await fs.mkdir(hostPath, { recursive: true, mode: 0o755 });
}
