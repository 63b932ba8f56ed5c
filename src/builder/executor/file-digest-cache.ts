import type { BigIntStats } from 'node:fs';

/**
 * Content digests of a local context's files, as BuildKit's content-hash cache keeps them:
 * keyed by (dev, ino, size, mtime, ctime), so a rebuild with no change only stats its files.
 * A write changes ctime (which no user can set back), a replaced file has another inode.
 * Bounded: the entries used least recently go first.
 */
export class FileDigestCache {
  static readonly RACY_MS = 2000;
  private readonly entries = new Map<string, string>();

  constructor(private readonly limit = 200_000) {}

  static key(st: BigIntStats): string {
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  }

  get(key: string): string | undefined {
    const digest = this.entries.get(key);
    if (digest !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, digest);
    }
    return digest;
  }

  set(key: string, digest: string): void {
    this.entries.delete(key);
    this.entries.set(key, digest);
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value as string);
  }

  get size(): number {
    return this.entries.size;
  }
}
