import { LABEL_DISTRIBUTION_SOURCE_PREFIX, type Labels } from '../content/types';

/**
 * containerd's distribution source label on a blob: `containerd.io/distribution.source.<host>`
 * whose value lists the repositories of that registry the blob is known to be in, comma
 * separated (`library/busybox,team/app`). Pull and push add to it; a push to another
 * repository of the same registry tries a cross-repository mount from them first.
 */
export function sourceLabelKey(registry: string): string {
  return `${LABEL_DISTRIBUTION_SOURCE_PREFIX}${registry}`;
}

/** The repositories of `registry` the blob came from or went to. */
export function sourceRepositories(labels: Labels | undefined, registry: string): string[] {
  const value = labels?.[sourceLabelKey(registry)];
  return value ? value.split(',').filter((r) => r !== '') : [];
}

/** The label's new value with `repository` added (first, so the latest is tried first); undefined when it is there already. */
export function withSourceRepository(labels: Labels | undefined, registry: string, repository: string): string | undefined {
  const repos = sourceRepositories(labels, registry);
  if (repos.includes(repository)) return undefined;
  // Keep the label within containerd's 4096-byte bound: the oldest repositories go first.
  const next = [repository, ...repos];
  while (next.length > 1 && sourceLabelKey(registry).length + next.join(',').length > 4000) next.pop();
  return next.join(',');
}
