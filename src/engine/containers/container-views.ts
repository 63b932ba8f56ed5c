import * as path from 'node:path';
import type { ContainerInspect, ContainerSummary, EndpointSettings, MountPoint } from '../../api/types/containers';
import type { Filters } from '../../api/types/common';
import { invalidArgument } from '../../errors';
import { containerStatusText } from '../../util/human-time';
import { deepFreeze } from '../../util/deep-freeze';
import type { Container } from './container-service';
import { normalizeNetworkMode, parseBind } from './create-config';
import { withDefaultDriver } from './log-config';
import { hostConfigView } from './host-config-view';
import { emptyEndpoint } from '../networks/empty-endpoint';

/** HostConfig.LogConfig with dockerd's default driver where a record has none. */
function resolvedLogConfig(container: Container): { Type: string; Config: Record<string, string> } {
  return withDefaultDriver(container.HostConfig.LogConfig);
}

/** Docker's human status column: "Up 3 seconds", "Exited (0) 2 minutes ago", "Created". */
export function humanStatus(container: Container, now = Date.now()): string {
  const state = container.State;
  return containerStatusText(
    {
      Running: state.Status === 'running' || state.Status === 'paused' || state.Status === 'restarting',
      Paused: state.Status === 'paused',
      Restarting: state.Status === 'restarting',
      Dead: state.Status === 'dead',
      RemovalInProgress: state.Status === 'removing',
      ExitCode: state.ExitCode,
      StartedAt: state.StartedAt,
      FinishedAt: state.FinishedAt,
      Health: state.Health,
    },
    now,
  );
}

/** The Command column as moby makes it: the path, then each argument, in single quotes when it holds a space. */
function shellQuoteForList(args: string[]): string {
  return args.map((arg, i) => (i > 0 && arg.includes(' ') ? `'${arg}'` : arg)).join(' ');
}

export function mountPoints(container: Container, volumeDataPath: (name: string) => string): MountPoint[] {
  const points: MountPoint[] = [];
  for (const spec of container.HostConfig.Binds ?? []) {
    const bind = parseBind(spec);
    const mode = spec.split(':')[2] ?? '';
    if (bind.type === 'bind') {
      points.push({ Type: 'bind', Source: bind.source, Destination: bind.destination, Mode: mode, RW: !bind.readonly, Propagation: 'rprivate' });
    } else {
      points.push({ Type: 'volume', Name: bind.source, Source: volumeDataPath(bind.source), Destination: bind.destination, Driver: 'local', Mode: mode || 'z', RW: !bind.readonly, Propagation: '' });
    }
  }
  const anonymous = container.AnonymousVolumes ?? {};
  for (const mount of container.HostConfig.Mounts ?? []) {
    const volume = mount.Type === 'volume' ? mount.Source || anonymous[path.posix.normalize(mount.Target ?? '')] : undefined;
    points.push({
      Type: mount.Type ?? 'bind',
      Source: volume ? volumeDataPath(volume) : (mount.Source ?? ''),
      Destination: mount.Target ?? '',
      Mode: '',
      RW: !mount.ReadOnly,
      Propagation: mount.Type === 'bind' ? 'rprivate' : '',
      ...(mount.Type === 'volume' ? { Name: volume, Driver: 'local' } : {}),
    });
  }
  // What --volumes-from shares, where its own binds and mounts leave room.
  const own = new Set(points.map((p) => path.posix.normalize(p.Destination)));
  for (const mount of container.SharedMounts ?? []) {
    if (own.has(path.posix.normalize(mount.Target ?? ''))) continue;
    const isVolume = mount.Type === 'volume';
    points.push({
      Type: mount.Type ?? 'bind',
      ...(isVolume ? { Name: mount.Source } : {}),
      Source: isVolume ? volumeDataPath(mount.Source ?? '') : (mount.Source ?? ''),
      Destination: mount.Target ?? '',
      ...(isVolume ? { Driver: 'local' } : {}),
      Mode: '',
      RW: !mount.ReadOnly,
      Propagation: mount.Type === 'bind' ? 'rprivate' : '',
    });
  }
  // The container's own volumes for its config's Volumes (image VOLUME, -v /path).
  const shown = new Set(points.map((p) => path.posix.normalize(p.Destination)));
  for (const [destination, name] of Object.entries(anonymous)) {
    if (!shown.has(destination)) points.push({ Type: 'volume', Name: name, Source: volumeDataPath(name), Destination: destination, Driver: 'local', Mode: '', RW: true, Propagation: '' });
  }
  return points;
}

function networkName(container: Container): string {
  const mode = normalizeNetworkMode(container.HostConfig.NetworkMode);
  return mode === 'default' ? 'bridge' : mode;
}

/** What networking shows for a container (src/engine/networks/container-networking.ts settings()). */
export interface NetworkView {
  networks: Record<string, EndpointSettings>;
  primary: { EndpointID: string; Gateway: string; IPAddress: string; IPPrefixLen: number; MacAddress: string } | undefined;
  sandboxKey: string;
  /** NetworkSettings.Ports, and the published ports for ps. */
  ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null>;
  portList: Array<{ proto: string; containerPort: number; hostIp: string; hostPort: number }>;
}

/** ps's Ports: each published port, then each exposed one that is not (docker's order is by port). */
function summaryPorts(container: Container, view: NetworkView | undefined): ContainerSummary['Ports'] {
  if (!view) return [];
  const ports: ContainerSummary['Ports'] = view.portList.map((p) => ({ IP: p.hostIp, PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.proto as 'tcp' | 'udp' }));
  for (const key of Object.keys(container.Config.ExposedPorts ?? {})) {
    const [port, proto = 'tcp'] = key.split('/');
    if (!ports.some((p) => p.PrivatePort === Number(port) && p.Type === proto)) ports.push({ PrivatePort: Number(port), Type: proto as 'tcp' | 'udp' });
  }
  return ports;
}

function networks(container: Container, view?: NetworkView) {
  if (view) return view.networks;
  return {
    [networkName(container)]: emptyEndpoint(''),
  };
}

export function toSummary(container: Container, volumeDataPath: (name: string) => string, view?: NetworkView): ContainerSummary {
  return {
    Id: container.Id,
    Names: [container.Name],
    Image: container.ImageName,
    ImageID: container.ImageId,
    Command: shellQuoteForList([container.Path, ...container.Args]),
    Created: Math.floor(Date.parse(container.Created) / 1000),
    Ports: summaryPorts(container, view),
    Labels: container.Config.Labels ?? {},
    State: container.State.Status,
    Status: humanStatus(container),
    HostConfig: { NetworkMode: container.HostConfig.NetworkMode || 'default' },
    NetworkSettings: { Networks: networks(container, view) },
    Mounts: mountPoints(container, volumeDataPath),
  };
}

/**
 * `ps` summaries by stored record (frozen, replaced on every change): the same deeply frozen
 * summary while the record and its status text ("Exited (0) 2 hours ago") are unchanged, so
 * the API keeps its encoding and `ps -a` at 2,000 containers does not rebuild and re-encode them all.
 */
export class ContainerSummaries {
  private readonly byRecord = new WeakMap<Container, ContainerSummary>();

  constructor(
    private readonly volumeDataPath: (name: string) => string,
    private readonly networkView?: (container: Container) => NetworkView,
  ) {}

  of(container: Container): ContainerSummary {
    const cached = this.byRecord.get(container);
    if (cached && cached.Status === humanStatus(container)) return cached;
    const summary = toSummary(container, this.volumeDataPath, this.networkView?.(container));
    deepFreeze(Object.assign(summary, { Labels: { ...summary.Labels } }));
    if (Object.isFrozen(container)) this.byRecord.set(container, summary);
    return summary;
  }
}

export interface InspectPaths {
  containerDir: string;
  rootfs: { upper: string; merged: string; lower: string; work: string };
}

export function toInspect(container: Container, paths: InspectPaths, volumeDataPath: (name: string) => string, execIds: string[], view?: NetworkView): ContainerInspect {
  const state = container.State;
  const primary = view?.primary;
  return {
    Id: container.Id,
    Created: container.Created,
    Path: container.Path,
    Args: container.Args,
    State: {
      Status: state.Status,
      Running: state.Status === 'running' || state.Status === 'paused' || state.Status === 'restarting',
      Paused: state.Status === 'paused',
      Restarting: state.Status === 'restarting',
      OOMKilled: state.OOMKilled,
      Dead: state.Status === 'dead',
      Pid: state.Pid,
      ExitCode: state.ExitCode,
      Error: state.Error,
      StartedAt: state.StartedAt,
      FinishedAt: state.FinishedAt,
      ...(state.Health ? { Health: state.Health } : {}),
    },
    Image: container.ImageId,
    ResolvConfPath: path.join(paths.containerDir, 'resolv.conf'),
    HostnamePath: path.join(paths.containerDir, 'hostname'),
    HostsPath: path.join(paths.containerDir, 'hosts'),
    // As dockerd: no log file for the none driver.
    LogPath: resolvedLogConfig(container).Type === 'none' ? '' : path.join(paths.containerDir, 'container.log'),
    Name: container.Name,
    RestartCount: container.RestartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: execIds.length > 0 ? execIds : null,
    HostConfig: hostConfigView(container.HostConfig),
    GraphDriver: {
      Name: 'overlay2',
      Data: { LowerDir: paths.rootfs.lower, MergedDir: paths.rootfs.merged, UpperDir: paths.rootfs.upper, WorkDir: paths.rootfs.work },
    },
    Mounts: mountPoints(container, volumeDataPath),
    // ExposedPorts is omitempty in moby's Config.
    Config: omitEmptyExposedPorts(container.Config),
    NetworkSettings: {
      Bridge: '',
      SandboxID: '',
      Ports: view?.ports ?? {},
      SandboxKey: view?.sandboxKey || (state.Pid > 0 && networkName(container) !== 'host' ? `/proc/${state.Pid}/ns/net` : ''),
      // The default endpoint's legacy fields dockerd still emits; empty without a bridge.
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: primary?.EndpointID ?? '',
      Gateway: primary?.Gateway ?? '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPAddress: primary?.IPAddress ?? '',
      IPPrefixLen: primary?.IPPrefixLen ?? 0,
      IPv6Gateway: '',
      MacAddress: primary?.MacAddress ?? '',
      Networks: networks(container, view),
    },
  };
}

function omitEmptyExposedPorts<C extends { ExposedPorts?: unknown }>(config: C): C {
  if (config.ExposedPorts && Object.keys(config.ExposedPorts).length > 0) return config;
  const { ExposedPorts: _omitted, ...rest } = config;
  return rest as C;
}

/**
 * Applies `docker ps --filter` (id, name, status, label, exited, ancestor, before, since).
 * `ancestors`: the image IDs an ancestor filter resolved to, descendants included.
 */
export function containerFilter(filters: Filters, lookup: (ref: string) => Container | undefined, ancestors: ReadonlySet<string> | undefined) {
  const known = new Set(['id', 'name', 'status', 'label', 'exited', 'ancestor', 'before', 'since', 'volume', 'network', 'health', 'isolation', 'is-task', 'publish', 'expose']);
  for (const key of Object.keys(filters)) {
    if (!known.has(key)) throw invalidArgument(`invalid filter '${key}'`);
  }
  const statuses = filters.status ?? [];
  for (const status of statuses) {
    if (!['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'].includes(status)) {
      throw invalidArgument(`invalid filter 'status=${status}'`);
    }
  }
  for (const value of filters.health ?? []) {
    if (!['starting', 'healthy', 'unhealthy', 'none'].includes(value)) throw invalidArgument(`Unrecognised filter value for health: ${value}`);
  }
  const exited = (filters.exited ?? []).map((value) => {
    const code = Number(value);
    if (!Number.isInteger(code)) throw invalidArgument(`invalid filter 'exited=${value}'`);
    return code;
  });
  const createdOf = (ref: string, key: string) => {
    const other = lookup(ref);
    if (!other) throw invalidArgument(`invalid filter '${key}=${ref}': No such container: ${ref}`);
    return Date.parse(other.Created);
  };
  const before = filters.before?.map((ref) => createdOf(ref, 'before'));
  const since = filters.since?.map((ref) => createdOf(ref, 'since'));
  return (container: Container): boolean => {
    if (filters.id?.length && !filters.id.some((id) => container.Id.startsWith(id))) return false;
    if (filters.name?.length && !filters.name.some((n) => new RegExp(n).test(container.Name.slice(1)) || container.Name === n)) return false;
    if (statuses.length && !statuses.includes(container.State.Status)) return false;
    if (filters.health?.length && !filters.health.includes(container.State.Health?.Status ?? 'none')) return false;
    if (exited.length && (container.State.Status !== 'exited' || !exited.includes(container.State.ExitCode))) return false;
    if (filters.label?.length) {
      const labels = container.Config.Labels ?? {};
      for (const label of filters.label) {
        const eq = label.indexOf('=');
        const key = eq < 0 ? label : label.slice(0, eq);
        if (!(key in labels)) return false;
        if (eq >= 0 && labels[key] !== label.slice(eq + 1)) return false;
      }
    }
    if (filters.ancestor?.length && !ancestors?.has(container.ImageId)) return false;
    const created = Date.parse(container.Created);
    if (before?.length && !before.every((t) => created < t)) return false;
    if (since?.length && !since.every((t) => created > t)) return false;
    return true;
  };
}
