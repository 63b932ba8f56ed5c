import type { ImageConfigWire, ImageInspect, ImageSummary, HistoryResponseItem } from '../../api/types/images';
import type { DockerContainerConfig } from '../../images/models';
import type { ResolvedImage } from './types';

/** Pure conversions from a ResolvedImage to Docker's wire shapes. */

export function unixSeconds(rfc3339: string): number {
  const ms = Date.parse(rfc3339);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
}

/**
 * Docker's container.Config as dockerd 20.10 encodes it: every field without `omitempty`
 * is present with its zero value ('' / false / null), in Go's field order; the `omitempty`
 * ones (ExposedPorts, Healthcheck, ArgsEscaped, NetworkDisabled, MacAddress, StopSignal,
 * StopTimeout, Shell) only when set.
 */
export function wireConfig(c: DockerContainerConfig): ImageConfigWire {
  return {
    Hostname: c.Hostname ?? '',
    Domainname: c.Domainname ?? '',
    User: c.User ?? '',
    AttachStdin: c.AttachStdin ?? false,
    AttachStdout: c.AttachStdout ?? false,
    AttachStderr: c.AttachStderr ?? false,
    ...(c.ExposedPorts && Object.keys(c.ExposedPorts).length > 0 ? { ExposedPorts: c.ExposedPorts } : {}),
    Tty: c.Tty ?? false,
    OpenStdin: c.OpenStdin ?? false,
    StdinOnce: c.StdinOnce ?? false,
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    ...(c.Healthcheck ? { Healthcheck: c.Healthcheck } : {}),
    ...(c.ArgsEscaped ? { ArgsEscaped: true } : {}),
    Image: c.Image ?? '',
    Volumes: c.Volumes ?? null,
    WorkingDir: c.WorkingDir ?? '',
    Entrypoint: c.Entrypoint ?? null,
    ...(c.NetworkDisabled ? { NetworkDisabled: true } : {}),
    ...(c.MacAddress ? { MacAddress: c.MacAddress } : {}),
    OnBuild: c.OnBuild ?? null,
    Labels: c.Labels ?? null,
    ...(c.StopSignal ? { StopSignal: c.StopSignal } : {}),
    ...(c.StopTimeout !== undefined && c.StopTimeout !== null ? { StopTimeout: c.StopTimeout } : {}),
    ...(c.Shell && c.Shell.length > 0 ? { Shell: c.Shell } : {}),
  };
}

/** Go's zero time.Time, which dockerd prints for a time it does not have. */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

export function toSummary(image: ResolvedImage, repoTags = image.repoTags, repoDigests = image.repoDigests): ImageSummary {
  return {
    Id: image.id,
    ParentId: image.record.parent ?? '',
    RepoTags: repoTags,
    RepoDigests: repoDigests,
    Created: unixSeconds(image.created),
    Size: image.size,
    SharedSize: -1,
    VirtualSize: image.size,
    Labels: image.runConfig.Labels ?? {},
    Containers: -1,
  };
}

export function toInspect(image: ResolvedImage, graphDriverData: Record<string, string> | null): ImageInspect {
  const c = image.config;
  return {
    Id: image.id,
    RepoTags: image.repoTags,
    RepoDigests: image.repoDigests,
    Parent: image.record.parent ?? '',
    Comment: c.comment ?? '',
    Created: image.created || GO_ZERO_TIME,
    Container: c.container ?? '',
    // An image that was not committed from a container has the zero config here (dockerd's
    // struct value), never no key: docker-compose v1 reads ContainerConfig.Volumes.
    ContainerConfig: wireConfig(c.container_config ?? {}),
    DockerVersion: c.docker_version ?? '',
    Author: c.author ?? '',
    Config: c.config ? wireConfig(c.config) : null,
    Architecture: c.architecture,
    ...(c.variant ? { Variant: c.variant } : {}),
    Os: c.os,
    Size: image.size,
    VirtualSize: image.size,
    GraphDriver: { Name: 'overlay2', Data: graphDriverData },
    RootFS: { Type: 'layers', Layers: image.diffIds },
    Metadata: { LastTagTime: image.record.lastTagTime ?? GO_ZERO_TIME },
  };
}

/** `docker history`: newest first, every ID `<missing>` (the caller fills in the IDs it knows). */
export function toHistory(image: ResolvedImage, layerSizes: number[]): HistoryResponseItem[] {
  const history = image.config.history ?? [];
  const items: HistoryResponseItem[] = [];
  let layerIndex = 0;
  for (const h of history) {
    const size = h.empty_layer ? 0 : (layerSizes[layerIndex++] ?? 0);
    items.push({
      Id: '<missing>',
      Created: unixSeconds(h.created ?? ''),
      CreatedBy: h.created_by ?? '',
      Tags: null,
      Size: size,
      Comment: h.comment ?? '',
    });
  }
  if (items.length === 0) {
    items.push({ Id: '<missing>', Created: unixSeconds(image.created), CreatedBy: '', Tags: null, Size: image.size, Comment: '' });
  }
  return items.reverse();
}
