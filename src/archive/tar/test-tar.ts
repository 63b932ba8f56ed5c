import { Readable } from 'node:stream';
import { encodeHeader, END_OF_ARCHIVE, EntryType, padding } from './header';

/** Builds a tar in memory from loose entries, for tests (including malicious names). */
export interface TestEntry {
  name: string;
  type?: EntryType;
  body?: string;
  mode?: number;
  linkname?: string;
  uid?: number;
  gid?: number;
  mtime?: number;
  devmajor?: number;
  devminor?: number;
  pax?: Array<[string, Buffer]>;
}

export function tarBuffer(entries: TestEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const type = e.type ?? 'file';
    parts.push(
      encodeHeader({
        name: e.name,
        type,
        mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        size: type === 'file' ? body.length : 0,
        mtime: e.mtime ?? 1_700_000_000,
        linkname: e.linkname,
        devmajor: e.devmajor,
        devminor: e.devminor,
        pax: e.pax,
      }),
    );
    if (type === 'file') parts.push(body, padding(body.length));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

export function tarStreamOf(entries: TestEntry[]): Readable {
  return Readable.from([tarBuffer(entries)]);
}

/** Collects a stream into one buffer. */
export async function bufferOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
