/**
 * JSON encoding of response bodies. A list's items that are frozen are encoded once and the
 * bytes kept for as long as the object lives: the engine hands out the same deeply frozen
 * summary while an image or container is unchanged, and a changed one is a new object, so a
 * kept encoding is never stale. `docker images` at 10,000 images is 2.6 MB of JSON; this
 * keeps it from being re-encoded on every call. The bytes are JSON.stringify's, in UTF-8.
 */
const encoded = new WeakMap<object, Buffer>();

const OPEN = 0x5b; // [
const COMMA = 0x2c;
const CLOSE = 0x5d; // ]
const NEWLINE = 0x0a;

function encodeItem(item: unknown): Buffer {
  const frozen = item !== null && typeof item === 'object' && Object.isFrozen(item);
  let bytes = frozen ? encoded.get(item as object) : undefined;
  if (bytes === undefined) {
    bytes = Buffer.from(JSON.stringify(item) ?? 'null');
    if (frozen) encoded.set(item as object, bytes);
  }
  return bytes;
}

/**
 * The body as UTF-8, ending with a newline as Go's json.Encoder does: `bytes` for a single
 * value, or for a list its encoded `items`, which `writeJsonList` joins.
 */
export type EncodedJson = { bytes: Buffer; length: number } | { items: Buffer[]; length: number };

export function encodeJsonBody(body: unknown): EncodedJson {
  if (!Array.isArray(body)) {
    const bytes = Buffer.from(`${JSON.stringify(body)}\n`);
    return { bytes, length: bytes.length };
  }
  const items = new Array<Buffer>(body.length);
  let length = 3 + Math.max(0, body.length - 1); // [ ] \n and the commas
  for (let i = 0; i < body.length; i++) {
    const item = encodeItem(body[i]);
    items[i] = item;
    length += item.length;
  }
  return { items, length };
}

/** Writes `[item,item,...]\n` into `out` (at least `length` bytes); returns the filled part. */
export function writeJsonList(items: readonly Buffer[], out: Buffer): Buffer {
  let offset = 0;
  out[offset++] = OPEN;
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out[offset++] = COMMA;
    const item = items[i] as Buffer;
    out.set(item, offset); // TypedArray#set: Buffer#copy costs far more per call
    offset += item.length;
  }
  out[offset++] = CLOSE;
  out[offset++] = NEWLINE;
  return out.subarray(0, offset);
}
/**
 * One spare buffer for large bodies, reused once a response using it has been written out.
 * A fresh multi-megabyte buffer is a new mapping whose pages all fault on first write: on
 * this VM that cost more than the encoding (about 260 faults and 10-20 ms for 2.6 MB).
 * A buffer whose response never finishes (the client went away) is left to the GC.
 */
export class SpareBuffer {
  private spare: Buffer | undefined;

  take(size: number): Buffer {
    const spare = this.spare;
    if (spare && spare.length >= size) {
      this.spare = undefined;
      return spare;
    }
    // Some room to grow, so a list that gains a few items does not need a new buffer.
    return Buffer.allocUnsafeSlow(Math.ceil((size * 1.25) / 65536) * 65536);
  }

  /** Only once the bytes were handed to the kernel (the response's 'finish'). */
  give(buffer: Buffer): void {
    if (!this.spare || this.spare.length < buffer.length) this.spare = buffer;
  }
}
