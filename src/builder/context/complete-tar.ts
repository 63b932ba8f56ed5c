import { Transform, type TransformCallback } from 'node:stream';

const BLOCK = 512;

/**
 * Passes a tar stream through, and when it ends right after an entry's data (its padding
 * and the end-of-archive blocks missing) adds them. The docker CLI 20.10 sends such a tar
 * for `docker build -f -` (archive.ReplaceFileTarWrapper never closes its tar writer), and
 * dockerd takes it. Only that exact shape is completed: a tar cut inside an entry's data
 * stays short, and the extraction refuses it.
 */
export class CompleteTarEnd extends Transform {
  private total = 0;
  /** Where the next header starts, once the current entry's data (rounded to blocks) is passed. */
  private nextHeaderAt = 0;
  /** The end of the current entry's data without padding, when the last header had data. */
  private dataEndsAt = 0;
  private header = Buffer.alloc(0);
  private ended = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let offset = 0;
    while (offset < chunk.length && !this.ended) {
      const at = this.total + offset;
      if (at < this.nextHeaderAt) {
        offset += Math.min(chunk.length - offset, this.nextHeaderAt - at);
        continue;
      }
      const need = BLOCK - this.header.length;
      this.header = Buffer.concat([this.header, chunk.subarray(offset, offset + need)]);
      offset += Math.min(need, chunk.length - offset);
      if (this.header.length < BLOCK) break;
      const headerAt = this.total + offset - BLOCK;
      if (this.header.every((b) => b === 0)) {
        this.ended = true; // the end-of-archive blocks: whatever follows is not ours to judge
      } else {
        const size = entrySize(this.header);
        this.dataEndsAt = headerAt + BLOCK + size;
        this.nextHeaderAt = headerAt + BLOCK + Math.ceil(size / BLOCK) * BLOCK;
      }
      this.header = Buffer.alloc(0);
    }
    this.total += chunk.length;
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (!this.ended && this.header.length === 0) {
      if (this.total === this.nextHeaderAt) this.push(Buffer.alloc(2 * BLOCK));
      else if (this.total === this.dataEndsAt) this.push(Buffer.alloc(this.nextHeaderAt - this.total + 2 * BLOCK));
    }
    done();
  }
}

/** The size field: octal text, or base-256 when its top bit is set. */
function entrySize(header: Buffer): number {
  const field = header.subarray(124, 136);
  if (field[0]! & 0x80) {
    let value = 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}
