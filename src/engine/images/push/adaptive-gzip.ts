import { Transform } from 'node:stream';
import { constants, crc32, createDeflateRaw, type DeflateRaw } from 'node:zlib';

/**
 * gzip for a push that stores what does not compress instead of deflating it.
 *
 * Deflate at docker's level (6) finds nothing to gain in already compressed or random bytes
 * (media, archives, model weights) and is at its slowest there: ~40 MB/s of CPU here, the
 * bulk of a push of such layers. So the level is chosen per window of input: a window deflated
 * at `level` that came out at RATIO_STORE of its size or more is followed by STORE_WINDOWS
 * windows at level 0 (stored blocks: a copy and a CRC, a few bytes bigger per 64 KB), then
 * one window is tried at `level` again. Compressible input never leaves `level`, so its blob
 * is what docker's gzip makes of it in size; either way the output is one valid gzip stream
 * (one deflate stream, zlib's deflateParams between windows after a sync flush).
 */
export const WINDOW_BYTES = 1024 * 1024;
/** Output/input of a window at or above which the next windows are stored. */
export const RATIO_STORE = 0.97;
/** Windows stored before the level is tried again. */
export const STORE_WINDOWS = 7;

export interface AdaptiveGzip {
  /** The streams to pipe through, in order (level governor, raw deflate, gzip framing). */
  streams: [Transform, DeflateRaw, Transform];
  /** The windows deflated at the level and stored so far. */
  windows(): { deflated: number; stored: number };
}

/**
 * gzip's header as Go's gzip.Writer writes it (docker's): deflate, no flags, no time, OS unknown.
 * (Node's Gzip cannot change its level mid-stream, its params() acts on raw and zlib deflate
 * only: so a raw deflate stream in gzip's frame, RFC 1952.)
 */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff]);

export function createAdaptiveGzip(options: { level: number; chunkSize?: number }): AdaptiveGzip {
  const deflate = createDeflateRaw({ level: options.level, chunkSize: options.chunkSize });
  let crc = 0;
  let size = 0;
  let out = 0;
  let level = options.level;
  let sinceCheck = 0;
  let storedLeft = 0;
  let inMark = 0;
  let outMark = 0;
  const counts = { deflated: 0, stored: 0 };

  /** The level for the window starting now, from how the window just ended compressed. */
  const nextLevel = (): number => {
    const consumed = deflate.bytesWritten - inMark;
    const ratio = consumed > 0 ? (out - outMark) / consumed : 0;
    inMark = deflate.bytesWritten;
    outMark = out;
    if (level === 0) {
      counts.stored++;
      storedLeft--;
      return storedLeft > 0 ? 0 : options.level;
    }
    counts.deflated++;
    if (ratio >= RATIO_STORE) {
      storedLeft = STORE_WINDOWS;
      return 0;
    }
    return level;
  };

  const governor = new Transform({
    transform(chunk: Buffer, _enc, done) {
      crc = crc32(chunk, crc);
      size += chunk.length;
      sinceCheck += chunk.length;
      if (sinceCheck < WINDOW_BYTES) return done(null, chunk);
      sinceCheck = 0;
      const next = nextLevel();
      if (next === level) return done(null, chunk);
      level = next;
      // The chunk goes on only once the new level is in place (after the bytes before it).
      deflate.params(next, constants.Z_DEFAULT_STRATEGY, () => done(null, chunk));
    },
  });
  let headerSent = false;
  const framer = new Transform({
    transform(chunk: Buffer, _enc, done) {
      out += chunk.length;
      if (!headerSent) {
        headerSent = true;
        this.push(GZIP_HEADER);
      }
      done(null, chunk);
    },
    flush(done) {
      if (!headerSent) this.push(GZIP_HEADER);
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(crc >>> 0, 0);
      trailer.writeUInt32LE(size % 2 ** 32, 4);
      done(null, trailer);
    },
  });
  return { streams: [governor, deflate, framer], windows: () => ({ ...counts }) };
}
