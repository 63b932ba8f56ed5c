import type { SystemDfResponse, SystemDfType, VolumeUsage } from '../../api/types/system';
import type { ContainerService } from '../containers/container-service';
import { toSummary } from '../containers/container-views';
import { containersUsingVolume, toVolume } from '../volumes/volume-service';
import type { ImagesBackendImpl } from '../images/images-backend';
import type { ImageService } from '../images/image-service';
import type { LocalVolumes } from '../../volumes/local-volumes';
import type { BuildCacheStore } from '../../builder/types';

/** GET /system/df: what images, containers and volumes hold on disk. */
export async function diskUsage(deps: {
  types: SystemDfType[];
  images: ImageService;
  imagesBackend: ImagesBackendImpl;
  containers: ContainerService;
  volumes: LocalVolumes;
  buildCache?: BuildCacheStore;
}): Promise<SystemDfResponse> {
  const want = (type: SystemDfType) => deps.types.length === 0 || deps.types.includes(type);
  const result: SystemDfResponse = { LayersSize: 0, Images: [], Containers: [], Volumes: [], BuildCache: [] };
  const containers = deps.containers.list();
  if (want('image')) {
    const usage = await deps.images.diskUsage(deps.imagesBackend.usage());
    result.LayersSize = usage.LayersSize;
    result.Images = usage.Images.map((image) => ({
      ...image,
      RepoTags: image.RepoTags,
      RepoDigests: image.RepoDigests,
      Containers: containers.filter((c) => c.ImageId === image.Id).length,
    }));
  }
  if (want('container')) {
    for (const container of containers) {
      const summary = toSummary(container, (name) => deps.volumes.dataPath(name));
      summary.SizeRw = await deps.containers.rwSize(container.Id);
      result.Containers.push(summary);
    }
  }
  if (want('volume')) {
    const volumes: VolumeUsage[] = [];
    for (const record of await deps.volumes.list()) {
      const volume = toVolume(record, deps.volumes);
      volumes.push({ ...volume, UsageData: { Size: await deps.volumes.size(record.Name), RefCount: containersUsingVolume(containers, record.Name).length } });
    }
    result.Volumes = volumes;
  }
  if (want('build-cache') && deps.buildCache) {
    // The shape BuildKit's cache records have in dockerd's answer; berth's entries are the classic builder's steps.
    result.BuildCache = (await deps.buildCache.list()).map((e) => ({
      ID: e.id.slice(0, 25),
      Parent: null,
      Parents: null,
      Type: 'regular',
      Description: e.description,
      InUse: e.inUse,
      Shared: false,
      Size: e.size,
      CreatedAt: e.createdAt,
      LastUsedAt: e.lastUsedAt,
      UsageCount: e.usageCount,
    }));
  }
  return result;
}
