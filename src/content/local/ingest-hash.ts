import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { hasBlobHash, native } from '../../native';

/**
 * An ingest's running SHA-256, fed by the writes that fill its data file. With the addon's
 * blob hashing, a write's bytes are written and hashed together on the thread pool
 * (appendHashed), and the state is a plain buffer (OpenSSL's SHA256_CTX): a pull's ~100 MB
 * of compressed layer bytes are no longer hashed on the daemon's JS thread, while the state
 * is still kept in memory for a resume just as before. With an addon built before it,
 * node:crypto on this thread.
 */
export interface IngestHash {
  /** Adds bytes the data file holds already (a resume re-reading a partial ingest). */
  update(chunk: Uint8Array): void;
  /**
   * Writes `chunks` at the end of the file (opened for appending) and adds them. On a failed
   * write nothing is added, but the file may hold part of them: the caller truncates it back.
   * The chunks must not change until this settles.
   */
  append(handle: FileHandle, chunks: Uint8Array[]): Promise<void>;
  /** The hex digest of every byte added so far (the state goes on). */
  hex(): string;
}

export function newIngestHash(): IngestHash {
  return hasBlobHash() ? new PoolIngestHash() : new CryptoIngestHash();
}

class PoolIngestHash implements IngestHash {
  private readonly state = native.sha256New!();

  update(chunk: Uint8Array): void {
    native.sha256Update!(this.state, chunk);
  }

  async append(handle: FileHandle, chunks: Uint8Array[]): Promise<void> {
    await native.appendHashed!(handle.fd, chunks, this.state);
  }

  hex(): string {
    return native.sha256Hex!(this.state);
  }
}

class CryptoIngestHash implements IngestHash {
  private readonly hash: Hash = createHash('sha256');

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }

  async append(handle: FileHandle, chunks: Uint8Array[]): Promise<void> {
    const length = chunks.reduce((sum, c) => sum + c.length, 0);
    let written = 0;
    while (written < length) {
      const rest = written === 0 ? chunks : skipBytes(chunks, written);
      const { bytesWritten } = rest.length === 1 ? await handle.write(rest[0]!) : await handle.writev(rest);
      written += bytesWritten;
    }
    for (const chunk of chunks) this.hash.update(chunk);
  }

  hex(): string {
    return this.hash.copy().digest('hex');
  }
}

/** The chunks after their first `n` bytes (what a short write left to write). */
function skipBytes(chunks: Uint8Array[], n: number): Uint8Array[] {
  const rest: Uint8Array[] = [];
  for (const chunk of chunks) {
    if (n >= chunk.length) {
      n -= chunk.length;
      continue;
    }
    rest.push(n > 0 ? chunk.subarray(n) : chunk);
    n = 0;
  }
  return rest;
}
