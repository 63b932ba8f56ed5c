import type { Digest } from '../util/digest';
import { Digester } from '../util/digest';
import type { CommitOptions, ContentIngester, ContentProvider } from './types';

/** A blob written by `ingestNew`; `added` is false when the store had it already. */
export interface IngestedBlob {
  digest: Digest;
  size: number;
  added: boolean;
}

/**
 * Writes a stream or buffer as one blob and tells whether this write added it, so an
 * operation can delete exactly what it added when it fails. The digest is computed while
 * writing, so the "was it there?" check happens before the commit makes it visible.
 * A commit that does not match `expected` throws the store's InvalidArgument and leaves
 * nothing behind; a failed read aborts the write.
 */
export async function ingestNew(
  content: Pick<ContentIngester, 'writer'> & Pick<ContentProvider, 'has'>,
  source: AsyncIterable<Uint8Array> | Uint8Array,
  expected?: CommitOptions,
): Promise<IngestedBlob> {
  const writer = await content.writer();
  const digester = new Digester();
  try {
    if (source instanceof Uint8Array) {
      digester.update(source);
      await writer.write(source);
    } else {
      for await (const chunk of source) {
        digester.update(chunk);
        await writer.write(chunk);
      }
    }
  } catch (err) {
    await writer.abort();
    throw err;
  }
  const existed = await content.has(digester.digest());
  const info = await writer.commit(expected);
  return { digest: info.digest, size: info.size, added: !existed };
}
