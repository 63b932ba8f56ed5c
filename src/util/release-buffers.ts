/**
 * Gives consumed buffers' memory back to malloc at once instead of at V8's next collection.
 *
 * Node's HTTP parser copies every piece of a request body into a buffer of its own; V8 frees
 * those only when it collects, after tens of MB of them, so a stream of uploads keeps faulting
 * in fresh heap (in this VM a page faulted in costs far more than the copy into it). Detaching
 * a buffer's ArrayBuffer (`transfer(0)`, Node 22+) frees its backing store now, and the next
 * body piece reuses that memory. Only for buffers the caller is the last user of: a detached
 * buffer reads as empty. A buffer that shares its ArrayBuffer (a pool slice, a subarray) is
 * left alone, as is everything on a Node without `ArrayBuffer.prototype.transfer`.
 */
export function releaseBuffers(chunks: readonly Uint8Array[]): void {
  for (const chunk of chunks) {
    const backing = chunk.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
    if (typeof backing.transfer !== 'function' || chunk.byteOffset !== 0 || chunk.byteLength !== backing.byteLength || chunk.byteLength === 0) continue;
    try {
      backing.transfer(0);
    } catch {
      // not detachable (a wasm memory, a buffer V8 pins): collected as usual
    }
  }
}
