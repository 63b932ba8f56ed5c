import { createHash, Hash } from 'node:crypto';
import { invalidArgument } from '../errors';

/** A content digest in the OCI form `sha256:<64 hex>`. */
export type Digest = `sha256:${string}`;

const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: string): value is Digest {
  return DIGEST_PATTERN.test(value);
}

export function parseDigest(value: string): Digest {
  if (!isDigest(value)) throw invalidArgument(`invalid digest: ${JSON.stringify(value)}`);
  return value;
}

export function digestOf(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function hexOf(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

/** An incremental digester for streams. */
export class Digester {
  private readonly hash: Hash = createHash('sha256');
  size = 0;
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.size += chunk.length;
  }
  digest(): Digest {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

/** The OCI chain ID of a stack of layer diff IDs, bottom first. */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const result: Digest[] = [];
  for (const diffId of diffIds) {
    const previous = result[result.length - 1];
    result.push(previous === undefined ? diffId : digestOf(`${previous} ${diffId}`));
  }
  return result;
}
