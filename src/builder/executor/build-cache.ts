import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { LeaseManager } from '../../metadata/leases';
import type { GarbageCollector } from '../../metadata/gc';
import type { SnapshotUnpacker } from '../../snapshots/unpacker';
import type { Descriptor, ImageConfig } from '../../images/models';
import type { Digest } from '../../util/digest';
import { writeJsonAtomic } from '../../util/atomic-fs';
import { isNotFound } from '../../errors';
import type { BuildCacheEntry, BuildCacheStore } from '../types';
import type { BuildState } from './build-state';

/** Label on the lease that holds a cache entry's layers. */
export const CACHE_LEASE_LABEL = 'berth.io/build-cache';
const LEASE_PREFIX = 'build-cache-';
/** Cache entries live until pruned. */
const CACHE_LEASE_MS = 100 * 365 * 24 * 3600 * 1000;

interface StoredEntry {
  key: string;
  description: string;
  /** Bytes of the step's own layer (0 for a config-only step). */
  size: number;
  createdAt: string;
  lastUsedAt: string | null;
  usageCount: number;
  state: { id: Digest; config: ImageConfig; layers: Descriptor[]; chainId: Digest | null };
}

/**
 * The content-addressed build cache: step key (sha256 of the parent state and the step's
 * resolved inputs) → the state after the step. An entry is a JSON file under
 * `<data-root>/builder/cache/` (0600, written atomically) plus a persistent lease holding
 * its layer and blobs, so the collector keeps them across restarts until `prune` ends the
 * lease. A hit is used only while its layer still exists.
 */
export class BuildCache implements BuildCacheStore {
  /** Entries being read by builds in flight: prune leaves them (InUse). */
  private readonly inUse = new Map<string, number>();

  constructor(
    private readonly dir: string,
    private readonly leases: LeaseManager,
    private readonly collector: GarbageCollector,
    private readonly layers: SnapshotUnpacker,
  ) {}

  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await fs.chmod(this.dir, 0o700);
    // An entry whose lease is gone (pruned while the daemon died, expired) is no entry.
    for (const name of await fs.readdir(this.dir)) {
      if (!name.endsWith('.json')) {
        await fs.rm(path.join(this.dir, name), { force: true });
        continue;
      }
      if (!this.leases.get(LEASE_PREFIX + name.slice(0, -5))) await fs.rm(path.join(this.dir, name), { force: true });
    }
  }

  /** The state a step with this key produced before, if its layers are still here; marks it used. */
  async get(key: string): Promise<BuildState | undefined> {
    const entry = await this.read(key);
    if (!entry || !this.leases.get(LEASE_PREFIX + key)) return undefined;
    if (entry.state.chainId !== null && !(await this.layers.get(entry.state.chainId))) return undefined;
    entry.lastUsedAt = new Date().toISOString();
    entry.usageCount++;
    await writeJsonAtomic(this.file(key), entry, 0o600, { durable: false }).catch(() => undefined);
    return entry.state;
  }

  /** Records the state a step produced; `ownLayer`: the step added a layer (its size is the entry's). */
  async put(key: string, description: string, state: BuildState, ownLayer: boolean): Promise<void> {
    const leaseId = LEASE_PREFIX + key;
    await this.collector.lock.runShared(async () => {
      if (!this.leases.get(leaseId)) {
        await this.leases.create({ id: leaseId, scope: 'persistent', expiresInMs: CACHE_LEASE_MS, labels: { [CACHE_LEASE_LABEL]: key } });
      }
      if (state.chainId !== null) await this.leases.addResource(leaseId, { type: 'layer', id: state.chainId });
      for (const l of state.layers) await this.leases.addResource(leaseId, { type: 'content', id: l.digest });
    });
    const size = ownLayer && state.chainId !== null ? ((await this.layers.get(state.chainId))?.size ?? 0) : 0;
    const now = new Date().toISOString();
    const entry: StoredEntry = { key, description, size, createdAt: now, lastUsedAt: null, usageCount: 0, state: { id: state.id, config: state.config, layers: [...state.layers], chainId: state.chainId } };
    await writeJsonAtomic(this.file(key), entry, 0o600);
  }

  /** Holds entries read by a build so a prune meanwhile keeps them. */
  hold(key: string): () => void {
    this.inUse.set(key, (this.inUse.get(key) ?? 0) + 1);
    return () => {
      const n = (this.inUse.get(key) ?? 1) - 1;
      if (n <= 0) this.inUse.delete(key);
      else this.inUse.set(key, n);
    };
  }

  async list(): Promise<BuildCacheEntry[]> {
    const out: BuildCacheEntry[] = [];
    for (const name of (await fs.readdir(this.dir)).sort()) {
      if (!name.endsWith('.json')) continue;
      const e = await this.read(name.slice(0, -5));
      if (!e) continue;
      out.push({ id: e.key, description: e.description, size: e.size, createdAt: e.createdAt, lastUsedAt: e.lastUsedAt, usageCount: e.usageCount, inUse: this.inUse.has(e.key) });
    }
    return out;
  }

  /** `builder prune`: ends the entries' leases (all of them; the classic builder's cache has no shared or internal kinds), removes their files, then collects. */
  async prune(_opts: { all: boolean; filters?: Record<string, string[]> }): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    const deleted: string[] = [];
    let spaceReclaimed = 0;
    for (const e of await this.list()) {
      if (e.inUse) continue;
      await this.collector.lock.runShared(() => this.leases.delete(LEASE_PREFIX + e.id));
      await fs.rm(this.file(e.id), { force: true });
      deleted.push(e.id);
      spaceReclaimed += e.size;
    }
    if (deleted.length > 0) await this.collector.collect();
    return { deleted, spaceReclaimed };
  }

  private file(key: string): string {
    return path.join(this.dir, `${key}.json`);
  }

  private async read(key: string): Promise<StoredEntry | undefined> {
    try {
      return JSON.parse(await fs.readFile(this.file(key), 'utf8')) as StoredEntry;
    } catch (err) {
      if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return undefined;
      throw err;
    }
  }
}
