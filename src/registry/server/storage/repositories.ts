import type { Digest } from '../../../util/digest';
import { hexOf } from '../../../util/digest';
import type { StorageDriver } from './driver';

/**
 * The registry's repositories on top of a storage driver: which blobs and manifests a
 * repository holds, its tags, its referrers index and its uploads. Blob and manifest content
 * lives once, by digest, in the driver's blob store; a repository only links to it, as in
 * distribution. Metadata keys (documents in the driver's metadata role):
 *
 *   repositories/<name>/_layers/sha256/<hex>                        a blob the repository holds (its digest)
 *   repositories/<name>/_manifests/revisions/sha256/<hex>           a manifest (ManifestRecord JSON)
 *   repositories/<name>/_manifests/tags/<tag>                       the digest the tag points to
 *   repositories/<name>/_referrers/sha256/<subject hex>/sha256/<hex> a manifest whose `subject` is <subject> (its descriptor JSON)
 *   repositories/<name>/_uploads/<uuid>                             an upload started in this repository (UploadRecord JSON)
 *
 * Repository name components never start with `_` (see names.ts), so these folders cannot
 * collide with a nested repository's name. Garbage collection reads the same layout.
 */

/** What the registry keeps about a stored manifest beside its bytes. */
export interface ManifestRecord {
  digest: Digest;
  mediaType: string;
  size: number;
  /** The manifest's `subject` (OCI 1.1), when it has one. */
  subject?: Digest;
  /** When it was last pushed (ms since epoch; absent in records older than the field): gc keeps a recent untagged manifest, a push may be about to tag it. */
  pushedAt?: number;
}

/** A referrer, as the referrers API lists it (an OCI descriptor). */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface UploadRecord {
  startedAt: number;
}

const ROOT = 'repositories';

export class RepositoryStore {
  constructor(readonly driver: StorageDriver) {}

  private key(name: string, ...rest: string[]): string {
    return [ROOT, name, ...rest].join('/');
  }

  private async getJson<T>(key: string): Promise<T | undefined> {
    const data = await this.driver.getMetadata(key);
    if (data === undefined) return undefined;
    try {
      return JSON.parse(data.toString('utf8')) as T;
    } catch {
      return undefined; // a damaged document counts as absent
    }
  }

  private putJson(key: string, value: unknown, options?: { durable?: boolean }): Promise<void> {
    return this.driver.putMetadata(key, Buffer.from(JSON.stringify(value)), options);
  }

  /** A repository exists once it holds a manifest (what the catalog lists) or a blob. */
  async exists(name: string): Promise<boolean> {
    const children = await this.driver.listMetadata(this.key(name));
    return children.includes('_manifests') || children.includes('_layers');
  }

  // --- blobs linked to the repository

  async linkBlob(name: string, digest: Digest): Promise<void> {
    await this.driver.putMetadata(this.key(name, '_layers', 'sha256', hexOf(digest)), Buffer.from(digest));
  }

  async hasBlob(name: string, digest: Digest): Promise<boolean> {
    const key = this.key(name, '_layers', 'sha256', hexOf(digest));
    // Asked on every blob HEAD and GET: a stat where the driver has one.
    return this.driver.hasMetadata ? this.driver.hasMetadata(key) : (await this.driver.getMetadata(key)) !== undefined;
  }

  async unlinkBlob(name: string, digest: Digest): Promise<void> {
    await this.driver.deleteMetadata(this.key(name, '_layers', 'sha256', hexOf(digest)));
  }

  async listBlobs(name: string): Promise<Digest[]> {
    return (await this.driver.listMetadata(this.key(name, '_layers', 'sha256'))).map((hex) => `sha256:${hex}` as Digest);
  }

  // --- manifests

  async manifest(name: string, digest: Digest): Promise<ManifestRecord | undefined> {
    return this.getJson<ManifestRecord>(this.key(name, '_manifests', 'revisions', 'sha256', hexOf(digest)));
  }

  async putManifest(name: string, record: ManifestRecord): Promise<void> {
    await this.putJson(this.key(name, '_manifests', 'revisions', 'sha256', hexOf(record.digest)), record);
  }

  async deleteManifest(name: string, digest: Digest): Promise<void> {
    await this.driver.deleteMetadata(this.key(name, '_manifests', 'revisions', 'sha256', hexOf(digest)));
  }

  async listManifests(name: string): Promise<Digest[]> {
    return (await this.driver.listMetadata(this.key(name, '_manifests', 'revisions', 'sha256'))).map((hex) => `sha256:${hex}` as Digest);
  }

  // --- tags

  async tag(name: string, tag: string): Promise<Digest | undefined> {
    const data = await this.driver.getMetadata(this.key(name, '_manifests', 'tags', tag));
    return data === undefined ? undefined : (data.toString('utf8').trim() as Digest);
  }

  async setTag(name: string, tag: string, digest: Digest): Promise<void> {
    await this.driver.putMetadata(this.key(name, '_manifests', 'tags', tag), Buffer.from(digest));
  }

  async deleteTag(name: string, tag: string): Promise<void> {
    await this.driver.deleteMetadata(this.key(name, '_manifests', 'tags', tag));
  }

  /** Tags in lexical (byte) order. */
  async listTags(name: string): Promise<string[]> {
    const tags = await this.driver.listMetadata(this.key(name, '_manifests', 'tags'));
    return tags.sort(compareBytes);
  }

  /** The tags pointing at `digest`. */
  async tagsOf(name: string, digest: Digest): Promise<string[]> {
    const out: string[] = [];
    for (const tag of await this.listTags(name)) if ((await this.tag(name, tag)) === digest) out.push(tag);
    return out;
  }

  // --- referrers

  async addReferrer(name: string, subject: Digest, descriptor: ReferrerDescriptor): Promise<void> {
    await this.putJson(this.key(name, '_referrers', 'sha256', hexOf(subject), 'sha256', hexOf(descriptor.digest)), descriptor);
  }

  async removeReferrer(name: string, subject: Digest, digest: Digest): Promise<void> {
    await this.driver.deleteMetadata(this.key(name, '_referrers', 'sha256', hexOf(subject), 'sha256', hexOf(digest)));
  }

  async listReferrers(name: string, subject: Digest): Promise<ReferrerDescriptor[]> {
    const out: ReferrerDescriptor[] = [];
    for (const hex of await this.driver.listMetadata(this.key(name, '_referrers', 'sha256', hexOf(subject), 'sha256'))) {
      const descriptor = await this.getJson<ReferrerDescriptor>(this.key(name, '_referrers', 'sha256', hexOf(subject), 'sha256', hex));
      if (descriptor) out.push(descriptor);
    }
    return out;
  }

  // --- uploads

  /**
   * Not fsynced: after a machine crash a lost marker only makes the upload unknown (the client
   * starts over; gc removes the orphaned data), and each blob push saves a disk round trip.
   */
  async addUpload(name: string, uuid: string, record: UploadRecord): Promise<void> {
    await this.putJson(this.key(name, '_uploads', uuid), record, { durable: false });
  }

  async upload(name: string, uuid: string): Promise<UploadRecord | undefined> {
    return this.getJson<UploadRecord>(this.key(name, '_uploads', uuid));
  }

  async removeUpload(name: string, uuid: string): Promise<void> {
    await this.driver.deleteMetadata(this.key(name, '_uploads', uuid));
  }

  // --- catalog

  /** Every repository holding manifests, in lexical order. */
  async listRepositories(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (prefix: string[]): Promise<void> => {
      const children = await this.driver.listMetadata([ROOT, ...prefix].join('/'));
      if (prefix.length > 0 && children.includes('_manifests')) out.push(prefix.join('/'));
      for (const child of children) if (!child.startsWith('_')) await walk([...prefix, child]);
    };
    await walk([]);
    return out.sort(compareBytes);
  }
}

/** Byte order of ASCII strings (the spec's "lexical" order for tags and the catalog). */
export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
