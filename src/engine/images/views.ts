import type { ImageConfigWire, ImageInspect, ImageSummary, HistoryResponseItem } from '../../api/types/images';
import type { ImageRunConfig } from '../../images/models';
import type { ResolvedImage } from './types';

/** Pure conversions from a ResolvedImage to Docker's wire shapes. */

export function unixSeconds(rfc3339: string): number {
  const ms = Date.parse(rfc3339);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
}

/** Docker's container-config shape with its defaults (as `docker image inspect` shows). */
export function wireConfig(c: ImageRunConfig): ImageConfigWire {
  const wire: ImageConfigWire = {
    Hostname: '',
    Domainname: '',
    User: c.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    Image: '',
    Volumes: c.Volumes ?? null,
    WorkingDir: c.WorkingDir ?? '',
    Entrypoint: c.Entrypoint ?? null,
    OnBuild: c.OnBuild ?? null,
    Labels: c.Labels ?? null,
  };
  if (c.ExposedPorts) wire.ExposedPorts = c.ExposedPorts;
  if (c.StopSignal) wire.StopSignal = c.StopSignal;
  if (c.Healthcheck) wire.Healthcheck = c.Healthcheck;
  if (c.ArgsEscaped) wire.ArgsEscaped = c.ArgsEscaped;
  if (c.Shell) wire.Shell = c.Shell;
  return wire;
}

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
    Created: image.created || '0001-01-01T00:00:00Z',
    Container: c.container ?? '',
    DockerVersion: c.docker_version ?? '',
    Author: c.author ?? '',
    Config: wireConfig(image.runConfig),
    Architecture: c.architecture,
    ...(c.variant ? { Variant: c.variant } : {}),
    Os: c.os,
    Size: image.size,
    VirtualSize: image.size,
    GraphDriver: { Name: 'overlay2', Data: graphDriverData },
    RootFS: { Type: 'layers', Layers: image.diffIds },
    Metadata: image.record.lastTagTime ? { LastTagTime: image.record.lastTagTime } : {},
  };
}

/** `docker history`: newest first; the top entry carries the image ID and tags. */
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
  items.reverse();
  items[0].Id = image.id;
  items[0].Tags = image.repoTags.length > 0 ? image.repoTags : null;
  return items;
}
