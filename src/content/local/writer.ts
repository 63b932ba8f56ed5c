import type { BlobInfo, CommitOptions, ContentWriter, IngestStatus, Labels } from '../types';
import type { Digest } from '../../util/digest';
import { internal, invalidArgument } from '../../errors';
import type { IngestArea, OpenIngest } from './ingests';
import { validateLabels } from './labels';
import { newIngestHash } from './ingest-hash';

/** What the writer needs from the store to make a verified ingest a blob. */
export interface BlobPublisher {
  /** Moves the fsynced, closed data file into place (with labels first), or drops it if the blob exists. */
  publish(dataPath: string, digest: Digest, labels?: Labels): Promise<BlobInfo>;
}

/** A writer over one ingest (see the lifecycle in ../types.ts). */
export class LocalContentWriter implements ContentWriter {
  private done = false;
  private updatedAt = Date.now();

  constructor(
    private readonly area: IngestArea,
    private readonly ingest: OpenIngest,
    private readonly publisher: BlobPublisher,
  ) {}

  private checkOpen(what: string): void {
    if (this.done) throw internal(`${what} after commit, close or abort`);
  }

  status(): IngestStatus {
    const { meta } = this.ingest;
    return { ref: this.ingest.ref ?? '', offset: this.ingest.offset, total: meta.total, expected: meta.expected, startedAt: meta.startedAt, updatedAt: this.updatedAt };
  }

  write(chunk: Uint8Array): Promise<void> {
    return this.writev([chunk]);
  }

  async writev(chunks: Uint8Array[]): Promise<void> {
    this.checkOpen('write');
    const length = chunks.reduce((sum, c) => sum + c.length, 0);
    const { total } = this.ingest.meta;
    if (total !== undefined && this.ingest.offset + length > total) {
      throw invalidArgument(`write of ${length} bytes at offset ${this.ingest.offset} exceeds the expected size ${total}${this.ingest.ref ? ` of ingest ${this.ingest.ref}` : ''}`);
    }
    try {
      // Written and hashed together (on the thread pool when the addon can: ingest-hash.ts).
      await this.ingest.hash.append(this.ingest.handle, chunks);
    } catch (err) {
      // Nothing half-written: the data file goes back to what the digest state covers.
      await this.ingest.handle.truncate(this.ingest.offset).catch(() => undefined);
      throw err;
    }
    this.ingest.offset += length;
    this.updatedAt = Date.now();
  }

  async truncate(size: 0): Promise<void> {
    this.checkOpen('truncate');
    if (size !== 0) throw invalidArgument(`truncate to ${size as number}: only 0 is supported`);
    await this.ingest.handle.truncate(0);
    this.ingest.hash = newIngestHash();
    this.ingest.offset = 0;
    this.updatedAt = Date.now();
  }

  async commit(expected: CommitOptions = {}): Promise<BlobInfo> {
    this.checkOpen('commit');
    if (expected.labels) validateLabels(expected.labels);
    this.done = true;
    const digest: Digest = `sha256:${this.ingest.hash.hex()}`;
    const size = this.ingest.offset;
    const wantSize = expected.size ?? this.ingest.meta.total;
    const wantDigest = expected.digest ?? this.ingest.meta.expected;
    try {
      if (wantSize !== undefined && wantSize !== size) throw invalidArgument(`unexpected commit size ${size}, expected ${wantSize}`);
      if (wantDigest !== undefined && wantDigest !== digest) throw invalidArgument(`unexpected commit digest ${digest}, expected ${wantDigest}`);
      await this.ingest.handle.sync();
      await this.ingest.handle.close();
      const info = await this.publisher.publish(this.ingest.dataPath, digest, expected.labels);
      await this.area.remove(this.ingest);
      return info;
    } catch (err) {
      await this.ingest.handle.close().catch(() => undefined);
      await this.area.remove(this.ingest);
      throw err;
    } finally {
      this.area.release(this.ingest, false);
    }
  }

  async close(): Promise<void> {
    if (this.done) return;
    if (this.ingest.ref === undefined) return this.abort();
    this.done = true;
    await this.ingest.handle.close().catch(() => undefined);
    this.area.release(this.ingest, true);
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.ingest.handle.close().catch(() => undefined);
    await this.area.remove(this.ingest);
    this.area.release(this.ingest, false);
  }
}
