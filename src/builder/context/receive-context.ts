import type { Readable } from 'node:stream';
import { errorKind, invalidArgument, messageOf } from '../../errors';
import { decompressStream } from '../../images/compression';
import { extractLayer } from '../../archive/tar/extract';
import { CompleteTarEnd } from './complete-tar';
import { tarsumHeader, tarsumKey, type ContextTarHeaders, type TarsumHeader } from '../executor/copy-history';

/**
 * Unpacks a build context sent as a tar (plain, gzip, bzip2, xz or zstd, as docker accepts)
 * into `dir`, through the fd-confined extractor: an entry whose `..` climbs out, a hardlink
 * to outside, or a symlink pointing outside the context (absolute, or climbing out) is
 * refused with InvalidArgument naming the entry. Owners and modes are kept as sent (COPY
 * decides what they become in the image); `.wh.` names are ordinary files here.
 */
export async function receiveContext(body: Readable, dir: string): Promise<ContextTarHeaders> {
  try {
    const { stream } = await decompressStream(body);
    const tar = new CompleteTarEnd();
    stream.on('error', (err) => tar.destroy(err));
    // The headers as sent: dockerd names COPY's sources in the history by their tarsums.
    const headers = new Map<string, TarsumHeader>();
    const onEntry = (h: Parameters<typeof tarsumHeader>[0]): void => {
      const key = tarsumKey(h.name);
      if (!headers.has(key)) headers.set(key, tarsumHeader(h));
    };
    await extractLayer(stream.pipe(tar), dir, { whiteouts: 'literal', confineSymlinks: true, onEntry });
    return headers;
  } catch (err) {
    body.resume();
    // tar-stream's plain Errors ("Unexpected end of data", "Invalid tar header") are the client's fault.
    if (errorKind(err) === undefined || errorKind(err) === 'InvalidArgument') throw invalidArgument(`invalid build context: ${messageOf(err)}`, err);
    throw err;
  }
}
