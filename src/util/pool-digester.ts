import { hasAsyncHash, native } from '../native';
import { Digester, type Digest } from './digest';

/**
 * A sha256 of a stream computed on libuv's thread pool (the addon's sha256UpdateAsync over
 * OpenSSL's SHA256_CTX), for a thread with other work to do: the layer extraction worker
 * hashes a layer's ~50 MB tar (its diff ID) while it parses and writes it. Chunks queued
 * while a job runs go together in the next one, in order. The chunks must not change
 * until `digest()` has resolved. With an addon built before it, node:crypto at once.
 */
export class PoolDigester {
  size = 0;
  private readonly state = hasAsyncHash() ? native.sha256New!() : undefined;
  private readonly fallback = this.state ? undefined : new Digester();
  private queue: Uint8Array[] = [];
  private queued = 0;
  private running: Promise<void> | undefined;
  private failure: unknown;

  update(chunk: Uint8Array): void {
    this.size += chunk.length;
    if (this.fallback) return this.fallback.update(chunk);
    if (chunk.length === 0) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.running ??= this.run();
  }

  /** Waits while more than `maxQueued` bytes wait to be hashed (the caller's back-pressure). */
  async drain(maxQueued: number): Promise<void> {
    while (this.running && this.queued > maxQueued) await this.running;
  }

  async digest(): Promise<Digest> {
    if (this.fallback) return this.fallback.digest();
    while (this.running) await this.running;
    if (this.failure !== undefined) throw this.failure;
    return `sha256:${native.sha256Hex!(this.state!)}`;
  }

  private async run(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const chunks = this.queue;
        this.queue = [];
        await native.sha256UpdateAsync!(this.state!, chunks);
        this.queued -= chunks.reduce((sum, c) => sum + c.length, 0);
      }
    } catch (err) {
      this.failure ??= err;
      this.queue = [];
      this.queued = 0;
    } finally {
      this.running = undefined;
    }
  }
}
