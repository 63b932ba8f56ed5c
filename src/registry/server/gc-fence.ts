import * as os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { RegistryError } from '../errcodes';
import type { MetadataDriver } from './storage/driver';

/**
 * The fence between `berth registry gc` and a running `berth registry serve` on the same
 * storage (two processes, possibly two hosts on an object store, so the fence is a metadata
 * document, not a lock in memory).
 *
 * While gc sweeps, it holds the fence. The server waits at the fence before each step that
 * makes an existing blob referenced: linking a blob into a repository (upload completion,
 * cross-repository mount) and storing a manifest (checked against the links, then stored). Each
 * such step is a few small writes after its wait, and gc, after raising the fence, waits
 * `settleMs` (longer than those writes take) before it marks; so a step either finished
 * before gc marks (and gc sees it) or waits until gc is done (and then finds the links gc
 * removed gone, and refuses cleanly with BLOB_UNKNOWN/MANIFEST_BLOB_UNKNOWN, so the client
 * uploads again).
 *
 * A fence whose holder is gone (same host, process dead; another host, older than
 * `STALE_FOREIGN_MS`) is ignored, so a crashed gc cannot stop pushes for good.
 */
export const GC_FENCE_KEY = 'gc/fence';
/** A fence raised on another host counts for at most this long. */
export const STALE_FOREIGN_MS = 6 * 60 * 60 * 1000;
/** How long a push waits at a fence before it is told to retry (503 UNAVAILABLE). */
export const MAX_FENCE_WAIT_MS = 10 * 60 * 1000;

export interface GcFence {
  pid: number;
  host: string;
  /** ms since epoch */
  startedAt: number;
}

/** Raises the fence; resolves with the function that drops it. Fails when a live gc holds it. */
export async function raiseFence(driver: MetadataDriver): Promise<() => Promise<void>> {
  const held = await readFence(driver);
  if (held && isLive(held)) throw new Error(`another gc (pid ${held.pid} on ${held.host}, since ${new Date(held.startedAt).toISOString()}) holds the fence`);
  const fence: GcFence = { pid: process.pid, host: os.hostname(), startedAt: Date.now() };
  await driver.putMetadata(GC_FENCE_KEY, Buffer.from(JSON.stringify(fence)));
  return () => driver.deleteMetadata(GC_FENCE_KEY);
}

/** Waits while a live gc holds the fence (polling), at most `maxWaitMs`, then 503 UNAVAILABLE. */
export async function waitWhileFenced(driver: MetadataDriver, options: { pollMs?: number; maxWaitMs?: number } = {}): Promise<void> {
  const pollMs = options.pollMs ?? 100;
  const deadline = Date.now() + (options.maxWaitMs ?? MAX_FENCE_WAIT_MS);
  for (;;) {
    const fence = await readFence(driver);
    if (!fence || !isLive(fence)) return;
    if (Date.now() >= deadline) {
      throw new RegistryError('UNAVAILABLE', 'garbage collection is running on this registry; retry later', { headers: { 'Retry-After': '60' } });
    }
    await sleep(pollMs);
  }
}

async function readFence(driver: MetadataDriver): Promise<GcFence | undefined> {
  const data = await driver.getMetadata(GC_FENCE_KEY);
  if (!data) return undefined;
  try {
    const value = JSON.parse(data.toString('utf8')) as Partial<GcFence>;
    if (typeof value.pid === 'number' && typeof value.host === 'string' && typeof value.startedAt === 'number') return value as GcFence;
  } catch {
    // a torn or foreign document: no fence
  }
  return undefined;
}

function isLive(fence: GcFence): boolean {
  if (fence.host !== os.hostname()) return Date.now() - fence.startedAt < STALE_FOREIGN_MS;
  try {
    process.kill(fence.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
