import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { isConflict, isNotFound } from '../../errors';
import type { LocalVolumes } from '../../volumes/local-volumes';
import { type ContainerConfig, type HostConfig, parseBind } from './create-config';

/** The label Docker (≥ 23) gives a volume it named itself; volume prune removes those by default. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/**
 * Where a container gets a volume of its own (Docker's anonymous volumes): each path of
 * the config's Volumes (the image's VOLUME, `-v /path`) that no bind or mount covers, and
 * each volume mount without a source (`--mount type=volume,target=/path`).
 */
export function anonymousVolumeTargets(config: ContainerConfig, host: HostConfig, shared: ReadonlyArray<{ Target?: string }> = []): string[] {
  // A path --volumes-from shares is mounted already (moby's IsDestinationMounted).
  const covered = new Set<string>(shared.map((m) => path.posix.normalize(m.Target ?? '')));
  for (const spec of host.Binds ?? []) covered.add(parseBind(spec).destination);
  for (const mount of host.Mounts ?? []) if (mount.Target && (mount.Type !== 'volume' || mount.Source)) covered.add(path.posix.normalize(mount.Target));
  for (const target of Object.keys(host.Tmpfs ?? {})) covered.add(path.posix.normalize(target));
  const targets = new Set<string>();
  for (const mount of host.Mounts ?? []) if (mount.Type === 'volume' && !mount.Source && mount.Target) targets.add(path.posix.normalize(mount.Target));
  for (const target of Object.keys(config.Volumes ?? {})) {
    const normalized = path.posix.normalize(target);
    if (path.posix.isAbsolute(normalized) && !covered.has(normalized)) targets.add(normalized);
  }
  return [...targets];
}

/** Creates one volume per target, named by 64 random hex digits as Docker does; returns target → name. */
export async function createAnonymousVolumes(targets: readonly string[], volumes: LocalVolumes): Promise<Record<string, string>> {
  const made: Record<string, string> = {};
  try {
    for (const target of targets) {
      const name = randomBytes(32).toString('hex');
      await volumes.create(name, { labels: { [ANONYMOUS_LABEL]: '' } });
      made[target] = name;
    }
  } catch (err) {
    await removeVolumes(Object.values(made), volumes);
    throw err;
  }
  return made;
}

/**
 * Removes a removed container's anonymous volumes (`rm -v`, `--rm`); one another container
 * still uses stays, as in Docker. Returns the names removed.
 */
export async function removeVolumes(names: readonly string[], volumes: LocalVolumes, usedBy: (name: string) => string[] = () => []): Promise<string[]> {
  const removed: string[] = [];
  for (const name of names) {
    try {
      await volumes.remove(name, usedBy(name));
      removed.push(name);
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }
  return removed;
}
