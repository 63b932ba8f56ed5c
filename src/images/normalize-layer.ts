import type { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { ByteSource, lazyReadable } from '../util/lazy-readable';
import { cleanEntryName } from '../archive/tar/entry-name';

/**
 * Rewrites an arbitrary rootfs tarball (`docker import`) into a proper layer tar: names
 * relative and clean ("./etc/x", "/etc/x" → "etc/x"), no root entry, hardlink targets
 * cleaned the same way, only file types a layer can hold, and only xattr PAX records.
 * A name or hardlink target that climbs out of the root is refused (InvalidArgument).
 */
export function normalizeLayerTar(input: Readable): Readable {
  return lazyReadable(() => normalize(input) as unknown as ByteSource);
}

function normalize(input: Readable): tarStream.Pack {
  const extract = tarStream.extract();
  const pack = tarStream.pack();
  extract.on('entry', (header, body, next) => {
    const done = (err?: unknown) => (err ? next(err as Error) : next());
    // A failure destroys the entry too; it is reported once, through the extract stream.
    body.on('error', () => undefined);
    try {
      const name = cleanEntryName(header.name);
      const kept = KEPT_TYPES.has(header.type ?? 'file');
      if (name === '' || !kept) {
        body.on('end', () => done());
        body.resume();
        return;
      }
      const out: PackHeader = {
        // Directories end in "/", as in Docker's layer tars.
        name: header.type === 'directory' ? `${name}/` : name,
        type: header.type === 'contiguous-file' || header.type === undefined ? 'file' : header.type,
        mode: header.mode,
        uid: header.uid,
        gid: header.gid,
        mtime: header.mtime,
        size: header.type === 'file' || header.type === 'contiguous-file' || header.type === undefined ? header.size : 0,
        devmajor: header.devmajor,
        devminor: header.devminor,
      };
      if (header.type === 'link' && header.linkname) out.linkname = cleanEntryName(header.linkname);
      if (header.type === 'symlink') out.linkname = header.linkname ?? '';
      const xattrs = Object.entries((header.pax ?? {}) as Record<string, string>).filter(([k]) => k.startsWith('SCHILY.xattr.'));
      if (xattrs.length > 0) out.pax = Object.fromEntries(xattrs);
      if (out.type === 'file') {
        const sink = pack.entry(out, (err) => done(err ?? undefined));
        body.pipe(sink);
      } else {
        pack.entry(out);
        body.on('end', () => done());
        body.resume();
      }
    } catch (err) {
      body.resume();
      done(err);
    }
  });
  extract.on('finish', () => pack.finalize());
  extract.on('error', (err: Error) => pack.destroy(err));
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract);
  return pack;
}

/** The header argument of tar-stream's pack.entry. */
export type PackHeader = Parameters<tarStream.Pack['entry']>[0];

const KEPT_TYPES = new Set<string>(['file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo', 'contiguous-file']);
