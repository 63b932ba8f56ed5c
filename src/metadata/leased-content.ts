import type { Readable } from 'node:stream';
import type { BlobInfo, CommitOptions, ContentStore, ContentWriter, WriterOptions } from '../content/types';
import type { SharedExclusiveLock } from '../util/shared-lock';
import type { LeaseManager } from './leases';

/**
 * The content store as an operation holding a lease sees it: every blob it commits is
 * added to the lease in the same section, under the collector's lock held shared, so no
 * collection can see the blob before the lease protects it; a named ingest it opens is added
 * (type `ingest`, the ref) before it is opened. Everything else is the store.
 */
export function leasedContent(content: ContentStore, leases: LeaseManager, leaseId: string, lock: SharedExclusiveLock): ContentStore {
  const writer = async (options?: WriterOptions): Promise<ContentWriter> => {
    // A named ingest is protected before it is opened: a collection sweeping stale ingests
    // either ran before (and may have removed an old one: this write starts over) or sees the lease.
    const ref = options?.ref;
    if (ref !== undefined && ref !== '') await lock.runShared(() => leases.addResource(leaseId, { type: 'ingest', id: ref }));
    const inner = await content.writer(options);
    return {
      write: (chunk) => inner.write(chunk),
      writev: (chunks) => inner.writev(chunks),
      status: () => inner.status(),
      truncate: (size) => inner.truncate(size),
      commit: (expected?: CommitOptions): Promise<BlobInfo> =>
        lock.runShared(async () => {
          const info = await inner.commit(expected);
          await leases.addResource(leaseId, { type: 'content', id: info.digest });
          return info;
        }),
      close: () => inner.close(),
      abort: () => inner.abort(),
    };
  };
  const ingest = async (source: Readable | Uint8Array, expected?: CommitOptions) => {
    const w = await writer();
    try {
      if (source instanceof Uint8Array) await w.write(source);
      else for await (const chunk of source) await w.write(chunk as Buffer);
    } catch (err) {
      await w.abort();
      throw err;
    }
    return w.commit(expected);
  };
  // Every other member is the store's own, called on the store.
  return new Proxy(content, {
    get(target, prop) {
      if (prop === 'writer') return writer;
      if (prop === 'ingest') return ingest;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
