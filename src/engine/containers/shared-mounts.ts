import * as path from 'node:path';
import { invalidArgument, isNotFound } from '../../errors';
import type { Mount } from '../../api/types/containers';
import type { Container } from './container-context';
import { mountPoints } from './container-views';

/**
 * `--volumes-from <container>[:ro|rw]` (HostConfig.VolumesFrom), resolved at create as
 * dockerd's registerMountPoints does: every mount point of each source container (its binds,
 * mounts, anonymous volumes and what it shares from others), at the same path, read-only
 * when the source's is or `:ro` is given. Kept in the record as mounts; the container's own
 * binds and mounts win at the same path, and its image VOLUMEs there get no volume of their own.
 * An unknown source container is a 400, as in dockerd.
 */
export function resolveVolumesFrom(volumesFrom: readonly string[] | null | undefined, get: (ref: string) => Container): Mount[] {
  const mounts: Mount[] = [];
  for (const spec of volumesFrom ?? []) {
    const colon = spec.lastIndexOf(':');
    const [ref, mode] = colon > 0 ? [spec.slice(0, colon), spec.slice(colon + 1)] : [spec, ''];
    if (mode !== '' && mode !== 'ro' && mode !== 'rw') throw invalidArgument(`invalid mode: ${mode}`);
    // A 400, as dockerd: the docker CLI answers a 404 from create by pulling the image.
    let source: Container;
    try {
      source = get(ref);
    } catch (err) {
      if (isNotFound(err)) throw invalidArgument(`No such container: ${ref}`);
      throw err;
    }
    for (const point of mountPoints(source, () => '')) {
      const readOnly = !point.RW || mode === 'ro';
      if (point.Type === 'volume') mounts.push({ Type: 'volume', Source: point.Name, Target: point.Destination, ReadOnly: readOnly });
      else if (point.Type === 'tmpfs') mounts.push({ Type: 'tmpfs', Target: point.Destination, ReadOnly: readOnly });
      else mounts.push({ Type: 'bind', Source: point.Source, Target: point.Destination, ReadOnly: readOnly });
    }
  }
  // A later source wins at the same path (dockerd keeps one mount point per destination).
  const byTarget = new Map<string, Mount>();
  for (const mount of mounts) byTarget.set(path.posix.normalize(mount.Target!), mount);
  return [...byTarget.values()];
}
