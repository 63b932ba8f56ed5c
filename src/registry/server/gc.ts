import { setTimeout as sleep } from 'node:timers/promises';
import { isDigest, type Digest } from '../../util/digest';
import { isNotFound } from '../../errors';
import { raiseFence } from './gc-fence';
import type { BlobStat, StorageDriver, UploadStatus } from './storage/driver';
import { RepositoryStore } from './storage/repositories';

/**
 * Garbage collection of a registry's storage (`berth registry gc`): removes blobs no
 * manifest references, and uploads abandoned long ago.
 *
 * Mark: every manifest a repository holds is a root — its revisions (pushed by tag or by
 * digest: an untagged manifest is still pullable by digest), its tags' targets and its
 * referrers — and marks itself, an image manifest's config and layers, and an index's child
 * manifests with what they reference in turn.
 *
 * Sweep, and why it never races an upload (the rule):
 *  1. a blob written less than `keepRecentMs` ago (default one hour) is kept: a push commits
 *     its layers first and its manifest last, and until the manifest arrives they are
 *     referenced by nothing;
 *  2. while a repository has an upload in progress (one touched within `uploadExpiryMs`),
 *     every blob linked to it is kept, however old: the push may be about to reference them;
 *  3. an upload's own data is not a blob until the upload completes, so the sweep never sees it;
 *  4. the deletions run behind the fence (gc-fence.ts): a running server stores no manifest
 *     and links no blob meanwhile, and after the fence has settled the manifests are marked
 *     again, so a manifest pushed while the collector ran (referencing an old blob the client
 *     found with HEAD) saves its blobs.
 * A deleted blob's links are removed from every repository first, so a push that needs it
 * afterwards is told it is unknown and uploads it again.
 *
 * Uploads untouched for longer than `uploadExpiryMs` (default 7 days, distribution's purge
 * age) are abandoned: gc removes them.
 *
 * With `deleteUntagged` (distribution's `--delete-untagged`), a manifest no tag reaches in its
 * repository is deleted first (its revision, and its referrers entry), so its blobs become
 * garbage too. Reaching is by a tag, then an index's children and the referrers of a reached
 * manifest, in turn (distribution 2.8 deletes a tagged index's children; it does not keep
 * what a tag reaches through an index). Kept as well, for a push in flight (an index's
 * children are pushed by digest before the index is tagged): a manifest pushed within
 * `keepRecentMs`, and every manifest of a repository with an upload in progress, with what
 * they reach. Behind the fence the untagged set is computed again, and only manifests
 * untagged in both passes go.
 */
export interface GcOptions {
  /** Report what would be removed, change nothing. */
  dryRun?: boolean;
  /** Delete manifests no tag reaches, and then their blobs. */
  deleteUntagged?: boolean;
  /** Blobs younger than this are kept (ms, default 1 h). */
  keepRecentMs?: number;
  /** Uploads idle for longer are removed; younger ones protect their repository (ms, default 7 days). */
  uploadExpiryMs?: number;
  /** One line per removal, as it happens. */
  onRemove?(line: string): void;
  /** Wait after raising the fence before marking, so a server's steps begun before it finish (ms, default 2000). */
  settleMs?: number;
  /** For tests: the current time (ms since epoch). */
  now?: number;
}

export interface GcReport {
  repositories: number;
  /** Blobs referenced by a manifest (manifests included). */
  marked: number;
  /** Unreferenced blobs kept by the rule: written recently, or linked to a repository with an upload in progress. */
  keptRecent: number;
  keptUploading: number;
  /** Blobs removed (or, with dryRun, that would be). */
  removed: BlobStat[];
  removedBytes: number;
  /** Abandoned uploads removed, as `<repository>/<uuid>`, or the driver's id when no repository records it. */
  removedUploads: string[];
  /** With deleteUntagged: manifests deleted (or, with dryRun, that would be), as `<repository>@<digest>`. */
  removedManifests: string[];
  /** With deleteUntagged: untagged manifests kept because they were pushed recently or their repository has an upload in progress. */
  keptUntagged: number;
}

export const DEFAULT_KEEP_RECENT_MS = 60 * 60 * 1000;
export const DEFAULT_UPLOAD_EXPIRY_MS = 7 * 24 * 60 * 60 * 1000;
export const DEFAULT_SETTLE_MS = 2000;

/** Nesting bound for indexes of indexes (a cycle cannot happen with digests, but a bound is cheap). */
const MAX_DEPTH = 8;

export async function collectGarbage(driver: StorageDriver, options: GcOptions = {}): Promise<GcReport> {
  const now = options.now ?? Date.now();
  const keepRecentMs = options.keepRecentMs ?? DEFAULT_KEEP_RECENT_MS;
  const uploadExpiryMs = options.uploadExpiryMs ?? DEFAULT_UPLOAD_EXPIRY_MS;
  const dryRun = options.dryRun ?? false;
  const say = options.onRemove ?? (() => {});
  const store = new RepositoryStore(driver);

  const repositories = await listAllRepositories(driver);
  const report: GcReport = { repositories: repositories.length, marked: 0, keptRecent: 0, keptUploading: 0, removed: [], removedBytes: 0, removedUploads: [], removedManifests: [], keptUntagged: 0 };

  // Uploads: expired ones go; live ones protect their repository's blobs.
  const uploads = new Map<string, UploadStatus>();
  for (const u of await driver.listUploads()) uploads.set(u.id, u);
  const uploadingRepos = new Set<string>();
  const recorded = new Set<string>();
  for (const name of repositories) {
    for (const uuid of await driver.listMetadata(`repositories/${name}/_uploads`)) {
      recorded.add(uuid);
      const status = uploads.get(uuid);
      const record = await store.upload(name, uuid);
      const lastActivity = Math.max(status?.updatedAt ?? 0, record?.startedAt ?? 0);
      if (now - lastActivity <= uploadExpiryMs) {
        uploadingRepos.add(name);
        continue;
      }
      say(`${dryRun ? 'would remove' : 'removed'} upload ${uuid} of ${name} (idle since ${new Date(lastActivity).toISOString()})`);
      report.removedUploads.push(`${name}/${uuid}`);
      if (!dryRun) {
        await driver.cancelUpload(uuid).catch((err) => {
          if (!isNotFound(err)) throw err;
        });
        await store.removeUpload(name, uuid);
      }
    }
  }
  for (const u of uploads.values()) {
    if (recorded.has(u.id) || now - u.updatedAt <= uploadExpiryMs) continue;
    say(`${dryRun ? 'would remove' : 'removed'} upload ${u.id} (no repository, idle since ${new Date(u.updatedAt).toISOString()})`);
    report.removedUploads.push(u.id);
    if (!dryRun) {
      await driver.cancelUpload(u.id).catch((err) => {
        if (!isNotFound(err)) throw err;
      });
    }
  }

  const untaggedOptions = { now, keepRecentMs, uploadingRepos };
  const untagged = options.deleteUntagged ? await findUntagged(store, repositories, untaggedOptions) : { doomed: new Map<string, Set<Digest>>(), kept: 0 };
  report.keptUntagged = untagged.kept;
  const marked = await markAll(driver, store, repositories, untagged.doomed);
  report.marked = marked.size;
  const protectedByUpload = new Set<Digest>();
  for (const name of uploadingRepos) for (const d of await store.listBlobs(name)) protectedByUpload.add(d);

  const candidates: BlobStat[] = [];
  for await (const blob of driver.listBlobs()) {
    if (marked.has(blob.digest)) continue;
    if (now - blob.modifiedAt < keepRecentMs) {
      report.keptRecent++;
      continue;
    }
    if (protectedByUpload.has(blob.digest)) {
      report.keptUploading++;
      continue;
    }
    candidates.push(blob);
  }
  if (candidates.length === 0 && untagged.doomed.size === 0) return report;
  if (dryRun) {
    for (const [name, digests] of untagged.doomed) {
      for (const digest of digests) {
        say(`would delete manifest ${name}@${digest}`);
        report.removedManifests.push(`${name}@${digest}`);
      }
    }
    for (const blob of candidates) {
      say(`would delete blob ${blob.digest} (${blob.size} bytes)`);
      report.removed.push(blob);
      report.removedBytes += blob.size;
    }
    return report;
  }

  // The sweep runs behind the fence: a running server links no blob and stores no manifest
  // meanwhile, and what it did just before has settled before the marking below.
  const dropFence = await raiseFence(driver);
  try {
    await sleep(options.settleMs ?? DEFAULT_SETTLE_MS);
    if (untagged.doomed.size > 0) {
      const again = await findUntagged(store, await listAllRepositories(driver), untaggedOptions);
      for (const [name, digests] of untagged.doomed) {
        for (const digest of digests) {
          if (!again.doomed.get(name)?.has(digest)) continue; // tagged or re-pushed meanwhile
          const record = await store.manifest(name, digest);
          if (record?.subject) await store.removeReferrer(name, record.subject, digest);
          await store.deleteManifest(name, digest);
          say(`deleted manifest ${name}@${digest}`);
          report.removedManifests.push(`${name}@${digest}`);
        }
      }
    }
    const remarked = await markAll(driver, store, await listAllRepositories(driver));
    const links = await blobLinks(driver, store);
    for (const blob of candidates) {
      if (remarked.has(blob.digest)) continue;
      say(`deleted blob ${blob.digest} (${blob.size} bytes)`);
      // Links first: from now on the registry says unknown and a push uploads the blob again.
      for (const name of links.get(blob.digest) ?? []) await store.unlinkBlob(name, blob.digest);
      await driver.deleteBlob(blob.digest);
      report.removed.push(blob);
      report.removedBytes += blob.size;
    }
  } finally {
    await dropFence();
  }
  return report;
}

/** Every repository that holds anything (manifests, blob links, uploads, referrers), not only what the catalog lists. */
async function listAllRepositories(driver: StorageDriver): Promise<string[]> {
  const out: string[] = [];
  const walk = async (prefix: string[]): Promise<void> => {
    const children = await driver.listMetadata(['repositories', ...prefix].join('/'));
    if (prefix.length > 0 && children.some((c) => c.startsWith('_'))) out.push(prefix.join('/'));
    for (const child of children) if (!child.startsWith('_')) await walk([...prefix, child]);
  };
  await walk([]);
  return out.sort();
}

/**
 * Per repository, the manifests no tag reaches (through index children and referrers), less
 * those a push in flight may still tag: pushed within keepRecentMs, or in a repository with an
 * upload in progress, with what they reach.
 */
async function findUntagged(
  store: RepositoryStore,
  repositories: string[],
  options: { now: number; keepRecentMs: number; uploadingRepos: Set<string> },
): Promise<{ doomed: Map<string, Set<Digest>>; kept: number }> {
  const doomed = new Map<string, Set<Digest>>();
  let kept = 0;
  for (const name of repositories) {
    const revisions = await store.listManifests(name);
    if (revisions.length === 0) continue;
    const tagged = new Set<Digest>();
    for (const tag of await store.listTags(name)) {
      const digest = await store.tag(name, tag);
      if (digest && isDigest(digest)) tagged.add(digest);
    }
    const protectedRoots: Digest[] = [];
    for (const digest of revisions) {
      if (tagged.has(digest)) continue;
      const pushedAt = (await store.manifest(name, digest))?.pushedAt ?? 0;
      if (options.uploadingRepos.has(name) || options.now - pushedAt < options.keepRecentMs) protectedRoots.push(digest);
    }
    const reached = await reachable(store, name, [...tagged, ...protectedRoots]);
    const gone = new Set(revisions.filter((d) => !reached.has(d)));
    kept += protectedRoots.length;
    if (gone.size > 0) doomed.set(name, gone);
  }
  return { doomed, kept };
}

/** The manifests of one repository reached from `roots`: an index's children and a manifest's referrers, in turn. */
async function reachable(store: RepositoryStore, name: string, roots: Digest[]): Promise<Set<Digest>> {
  const seen = new Set<Digest>();
  const work = [...roots];
  while (work.length > 0) {
    const digest = work.pop()!;
    if (seen.has(digest)) continue;
    seen.add(digest);
    const bytes = await store.driver.getBlob(digest);
    if (bytes) work.push(...manifestReferences(bytes).manifests);
    for (const referrer of await store.listReferrers(name, digest)) work.push(referrer.digest);
  }
  return seen;
}

/**
 * Digests of every manifest reachable from the repositories' roots, and of what they
 * reference; `excluded` (repository → manifests about to be deleted) are no roots.
 */
async function markAll(driver: StorageDriver, store: RepositoryStore, repositories: string[], excluded = new Map<string, Set<Digest>>()): Promise<Set<Digest>> {
  const marked = new Set<Digest>();
  const visit = async (digest: Digest, depth: number): Promise<void> => {
    if (marked.has(digest)) return;
    marked.add(digest);
    if (depth > MAX_DEPTH) return;
    const bytes = await driver.getBlob(digest);
    if (!bytes) return;
    const refs = manifestReferences(bytes);
    for (const blob of refs.blobs) marked.add(blob);
    for (const child of refs.manifests) await visit(child, depth + 1);
  };
  for (const name of repositories) {
    const roots = new Set<Digest>(await store.listManifests(name));
    for (const tag of await store.listTags(name)) {
      const digest = await store.tag(name, tag);
      if (digest && isDigest(digest)) roots.add(digest);
    }
    for (const subjectHex of await driver.listMetadata(`repositories/${name}/_referrers/sha256`)) {
      for (const hex of await driver.listMetadata(`repositories/${name}/_referrers/sha256/${subjectHex}/sha256`)) {
        const digest = `sha256:${hex}`;
        if (isDigest(digest)) roots.add(digest);
      }
    }
    for (const root of roots) if (!excluded.get(name)?.has(root)) await visit(root, 0);
  }
  return marked;
}

/**
 * The blobs and child manifests a stored manifest references, read leniently: the server
 * checked the document when it was pushed, and gc must keep whatever it can find in it.
 */
export function manifestReferences(bytes: Buffer): { blobs: Digest[]; manifests: Digest[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { blobs: [], manifests: [] };
  }
  const digestOf = (d: unknown): Digest | undefined => {
    const value = typeof d === 'object' && d !== null ? (d as { digest?: unknown }).digest : undefined;
    return typeof value === 'string' && isDigest(value) ? value : undefined;
  };
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  if (typeof doc !== 'object' || doc === null) return { blobs: [], manifests: [] };
  const m = doc as Record<string, unknown>;
  const blobs = [digestOf(m.config), ...list(m.layers).map(digestOf), ...list(m.blobs).map(digestOf)].filter((d): d is Digest => d !== undefined);
  const manifests = list(m.manifests).map(digestOf).filter((d): d is Digest => d !== undefined);
  return { blobs, manifests };
}

/** digest → repositories linking it. */
async function blobLinks(driver: StorageDriver, store: RepositoryStore): Promise<Map<Digest, string[]>> {
  const links = new Map<Digest, string[]>();
  for (const name of await listAllRepositories(driver)) {
    for (const digest of await store.listBlobs(name)) {
      const names = links.get(digest) ?? [];
      names.push(name);
      links.set(digest, names);
    }
  }
  return links;
}
