import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import type { ContentStore } from '../../content/types';
import type { Digest } from '../../util/digest';
import { invalidArgument, isInvalidArgument, messageOf } from '../../errors';
import { ingestNew } from '../../content/ingest-new';
import { decompressStream } from '../../images/compression';

/**
 * Reads an image archive (`docker save` output, OCI layout) straight into the content
 * store: every regular file becomes a blob, keyed by its archive path. Nothing touches
 * paths on disk, so names in the archive cannot escape anywhere; links are resolved
 * inside the archive's own namespace. A file under blobs/sha256/<hex> must hash to <hex>.
 * On failure every blob this read added is deleted again.
 */
/** Archive path (clean, relative) → blob. */
export type ArchiveFiles = Map<string, { digest: Digest; size: number }>;

export interface ArchiveContents {
  files: ArchiveFiles;
  /** Blobs that were not in the store before this read (to delete if the load fails). */
  newBlobs: Set<Digest>;
}

const BLOB_PATH = /^blobs\/sha256\/([a-f0-9]{64})$/;

/** A clean relative archive path; a `..` that climbs above the archive root is refused. */
export function cleanArchivePath(name: string): string {
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw invalidArgument(`invalid archive entry ${JSON.stringify(name)}: path escapes the archive`);
      parts.pop();
    } else parts.push(part);
  }
  return parts.join('/');
}

export async function readArchive(tar: Readable, content: ContentStore): Promise<ArchiveContents> {
  const files = new Map<string, { digest: Digest; size: number }>();
  const links = new Map<string, string>();
  const newBlobs = new Set<Digest>();
  const { stream } = await decompressStream(tar);
  const parser = tarStream.extract();
  const piping = pipeline(stream, parser as unknown as NodeJS.WritableStream);
  piping.catch(() => undefined);
  try {
    for await (const entry of parser) {
      const header = entry.header;
      const name = cleanArchivePath(header.name);
      if (header.type === 'file' || header.type === 'contiguous-file') {
        const m = BLOB_PATH.exec(name);
        const expected = { digest: m ? (`sha256:${m[1]}` as Digest) : undefined, size: header.size };
        files.set(name, await ingestEntry(content, entry as unknown as AsyncIterable<Uint8Array>, name, expected, newBlobs));
      } else if (header.type === 'symlink' || header.type === 'link') {
        const target = header.type === 'symlink' ? posix.join(posix.dirname(name), header.linkname) : header.linkname;
        links.set(name, cleanArchivePath(target));
        entry.resume();
      } else {
        entry.resume();
      }
    }
    await piping;
    for (const [name, target] of links) {
      const resolved = resolveLink(target, files, links);
      if (resolved) files.set(name, resolved);
    }
    return { files, newBlobs };
  } catch (err) {
    stream.destroy();
    parser.destroy();
    await Promise.all([...newBlobs].map((d) => content.delete(d)));
    throw err;
  }
}

/** Ingests one entry; records its digest in `newBlobs` when the store did not have it. */
async function ingestEntry(
  content: ContentStore,
  body: AsyncIterable<Uint8Array>,
  name: string,
  expected: { digest?: Digest; size: number },
  newBlobs: Set<Digest>,
): Promise<{ digest: Digest; size: number }> {
  try {
    const blob = await ingestNew(content, body, expected);
    if (blob.added) newBlobs.add(blob.digest);
    return { digest: blob.digest, size: blob.size };
  } catch (err) {
    // A digest or size that does not match is the archive's fault: name the entry.
    if (isInvalidArgument(err)) throw invalidArgument(`invalid archive: ${name}: ${messageOf(err)}`, err);
    throw err;
  }
}

function resolveLink(
  target: string,
  files: Map<string, { digest: Digest; size: number }>,
  links: Map<string, string>,
): { digest: Digest; size: number } | undefined {
  let current = target;
  for (let depth = 0; depth < 32; depth++) {
    const file = files.get(current);
    if (file) return file;
    const next = links.get(current);
    if (next === undefined) return undefined;
    current = next;
  }
  return undefined;
}
