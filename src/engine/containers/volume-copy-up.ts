import * as path from 'node:path';
import { native } from '../../native';
import { errnoCode } from '../../errors';
import type { Digest } from '../../util/digest';
import type { ContainerSnapshots } from '../../snapshots/types';
import type { LocalVolumes } from '../../volumes/local-volumes';
import { copyTree } from '../../archive/copy-tree';
import { closeFd, openHostDir, openInRoot } from '../../util/fs-at';
import { type HostConfig, parseBind } from './create-config';

/** A volume to fill from the image: the volume's name and where the container mounts it. */
export interface CopyUpTarget {
  volume: string;
  destination: string;
}

/**
 * The volume mounts whose image content is copied in (moby's MountPoint.CopyData): every
 * `-v name:/path`, `--mount type=volume` and anonymous volume (`anonymous`: target → name,
 * an image's VOLUME, `-v /path`, a volume mount without a source), unless `nocopy` /
 * `VolumeOptions.NoCopy` says otherwise. Bind mounts and tmpfs never copy.
 */
export function copyUpTargets(host: HostConfig, anonymous: Record<string, string> = {}): CopyUpTarget[] {
  const targets: CopyUpTarget[] = [];
  for (const spec of host.Binds ?? []) {
    const bind = parseBind(spec);
    if (bind.type === 'volume' && !bind.nocopy) targets.push({ volume: bind.source, destination: bind.destination });
  }
  for (const mount of host.Mounts ?? []) {
    if (mount.Type === 'volume' && mount.Source && mount.Target && !mount.VolumeOptions?.NoCopy) {
      targets.push({ volume: mount.Source, destination: mount.Target });
    }
  }
  const noCopy = new Set((host.Mounts ?? []).filter((m) => m.Type === 'volume' && !m.Source && m.Target && m.VolumeOptions?.NoCopy).map((m) => path.posix.normalize(m.Target!)));
  for (const [destination, volume] of Object.entries(anonymous)) {
    if (!noCopy.has(destination)) targets.push({ volume, destination });
  }
  return targets;
}

/**
 * Volume copy-up, as dockerd's populateVolumes does at create: an EMPTY volume (named or
 * anonymous) mounted
 * where the image has a directory gets that directory's content (owners, modes, mtimes,
 * symlinks as symlinks) and the directory's own owner and mode. A volume with anything in
 * it is never touched, and a destination the image lacks (or that is no directory) copies
 * nothing. The image is read through a read-only view of its top layer, released
 * afterwards; the destination is resolved inside the view (openat2 RESOLVE_IN_ROOT, so an
 * image's symlink there is followed as in the container, never out of it), and the copy
 * runs on fds only, so nothing from the image can reach outside the view or the volume.
 */
export async function copyUpVolumes(host: HostConfig, anonymous: Record<string, string>, chainId: Digest | null, deps: { volumes: LocalVolumes; rootfs: ContainerSnapshots }): Promise<void> {
  // Named volumes are created at create, as dockerd does, copy or not.
  for (const name of namedVolumes(host)) await deps.volumes.ensure(name);
  const targets = copyUpTargets(host, anonymous);
  if (targets.length === 0 || chainId === null) return; // an empty image has nothing to copy
  const dataDirs = await Promise.all(targets.map((t) => deps.volumes.ensure(t.volume)));
  await deps.rootfs.withLayerView(chainId, async (viewFd) => {
    for (const [i, target] of targets.entries()) {
      const source = openImageDir(viewFd, target.destination);
      if (source === undefined) continue;
      try {
        const volumeFd = openHostDir(dataDirs[i]!);
        try {
          if (native.readdirFd(volumeFd).length === 0) await copyTree(source, volumeFd);
        } finally {
          closeFd(volumeFd);
        }
      } finally {
        closeFd(source);
      }
    }
  });
}

function namedVolumes(host: HostConfig): string[] {
  const names = (host.Binds ?? []).map(parseBind).filter((b) => b.type === 'volume').map((b) => b.source);
  for (const mount of host.Mounts ?? []) if (mount.Type === 'volume' && mount.Source) names.push(mount.Source);
  return names;
}

/** The image's directory at `destination`, or undefined when it has none there. */
function openImageDir(viewFd: number, destination: string): number | undefined {
  try {
    return openInRoot(viewFd, destination, { directory: true });
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}
