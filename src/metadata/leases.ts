import { randomBytes } from 'node:crypto';
import { failedPrecondition, notFound } from '../errors';
import { Journal, JournalOp } from './journal';

/**
 * Leases (containerd's model): an operation that creates content — load, import, commit,
 * bootstrap, later pull and build — holds a lease for as long as it runs, and every blob,
 * layer or snapshot it writes is added to the lease before it becomes visible. The garbage
 * collector treats leased resources as roots, so nothing an operation has written but not
 * yet referenced from an image or a container can be collected under it.
 *
 * Lifecycle: create → addResource… → delete (the operation's results are referenced by
 * then, or it failed and removed them). Every lease expires (`expiresAt`); the collector
 * drops expired leases. A `process` lease belongs to an operation inside this daemon: it
 * cannot outlive the daemon, so the next start drops it and the collector then removes
 * whatever the crashed operation left. A `persistent` lease (a resumable ingest, a client
 * holding content across calls) survives restarts until it expires.
 * Leases are kept in a journal (`leases.journal`); process leases are written without
 * fsync, since a crash makes them moot anyway.
 */
export type LeaseResourceType = 'content' | 'ingest' | 'layer' | 'snapshot' | 'rootfs';

export interface LeaseResource {
  type: LeaseResourceType;
  id: string;
}

export interface Lease {
  schemaVersion: typeof LEASE_SCHEMA_VERSION;
  id: string;
  /** RFC 3339 */
  createdAt: string;
  /** RFC 3339; an expired lease protects nothing and is removed. */
  expiresAt: string;
  scope: 'process' | 'persistent';
  labels: Record<string, string>;
}

export interface LeaseOptions {
  id?: string;
  /** Default one hour. */
  expiresInMs?: number;
  scope?: Lease['scope'];
  labels?: Record<string, string>;
}

export const LEASE_SCHEMA_VERSION = 1 as const;
const DEFAULT_EXPIRY_MS = 60 * 60 * 1000;
const LEASE_PREFIX = 'lease/';
const RESOURCE_PREFIX = 'res/';

const resourceKey = (leaseId: string, r: LeaseResource) => `${RESOURCE_PREFIX}${leaseId}/${r.type}/${r.id}`;

export class LeaseManager {
  private journal: Journal | undefined;
  private readonly leases = new Map<string, { lease: Lease; resources: Map<string, LeaseResource> }>();

  /** Without a file, leases live in memory only (tests, tools). */
  constructor(private readonly file?: string) {}

  /** Opens the journal and drops expired leases and those of an earlier daemon process. Returns the dropped IDs. */
  async init(now = Date.now()): Promise<string[]> {
    if (this.file === undefined) return [];
    this.journal = await Journal.open(this.file, { kind: 'leases', schemaVersion: LEASE_SCHEMA_VERSION });
    for (const [key, value] of this.journal.records) {
      if (!key.startsWith(LEASE_PREFIX)) continue;
      const lease = value as Lease;
      if (lease.schemaVersion !== LEASE_SCHEMA_VERSION) {
        throw failedPrecondition(`metadata store ${this.file} holds lease ${lease.id} of schema version ${String(lease.schemaVersion)}, which this berth does not know; refusing to start`);
      }
      this.leases.set(lease.id, { lease, resources: new Map() });
    }
    for (const [key, value] of this.journal.records) {
      if (!key.startsWith(RESOURCE_PREFIX)) continue;
      const r = value as LeaseResource & { lease: string };
      this.leases.get(r.lease)?.resources.set(key, { type: r.type, id: r.id });
    }
    const stale = [...this.leases.values()].filter(({ lease }) => lease.scope === 'process' || Date.parse(lease.expiresAt) <= now).map(({ lease }) => lease.id);
    // Resource records whose lease is gone (a crash between the two writes) go too.
    const dangling = [...this.journal.records.keys()].filter((k) => k.startsWith(RESOURCE_PREFIX) && !this.leases.has(k.slice(RESOURCE_PREFIX.length).split('/')[0]));
    await this.journal.append([...stale.flatMap((id) => this.deleteOps(id)), ...dangling.map((k): JournalOp => ['d', k])]);
    for (const id of stale) this.leases.delete(id);
    return stale;
  }

  async close(): Promise<void> {
    await this.journal?.close();
  }

  async create(options: LeaseOptions = {}): Promise<Lease> {
    const now = Date.now();
    const lease: Lease = {
      schemaVersion: LEASE_SCHEMA_VERSION,
      id: options.id ?? `${now.toString(36)}-${randomBytes(6).toString('hex')}`,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + (options.expiresInMs ?? DEFAULT_EXPIRY_MS)).toISOString(),
      scope: options.scope ?? 'process',
      labels: options.labels ?? {},
    };
    if (this.leases.has(lease.id)) throw failedPrecondition(`lease ${lease.id} already exists`);
    await this.append([['p', LEASE_PREFIX + lease.id, lease]], lease.scope === 'persistent');
    this.leases.set(lease.id, { lease, resources: new Map() });
    return lease;
  }

  /** Protects `resource` under the lease; call it before the resource becomes visible. */
  async addResource(leaseId: string, resource: LeaseResource): Promise<void> {
    const entry = this.leases.get(leaseId);
    if (!entry) throw notFound(`lease ${leaseId} not found`);
    const key = resourceKey(leaseId, resource);
    if (entry.resources.has(key)) return;
    // Visible to the collector at once; the journal record only matters for persistent leases.
    entry.resources.set(key, resource);
    await this.append([['p', key, { lease: leaseId, ...resource }]], entry.lease.scope === 'persistent');
  }

  /** Ends a lease; what it protected is collectable from now on unless something references it. Idempotent. */
  async delete(leaseId: string): Promise<void> {
    if (!this.leases.has(leaseId)) return;
    const ops = this.deleteOps(leaseId);
    this.leases.delete(leaseId);
    await this.append(ops, false);
  }

  get(leaseId: string): Lease | undefined {
    return this.leases.get(leaseId)?.lease;
  }

  list(): Lease[] {
    return [...this.leases.values()].map(({ lease }) => lease);
  }

  resources(leaseId: string): LeaseResource[] {
    return [...(this.leases.get(leaseId)?.resources.values() ?? [])];
  }

  /** The resources of every unexpired lease, as "type/id" strings (the collector's roots). */
  protectedResources(now = Date.now()): Set<string> {
    const out = new Set<string>();
    for (const { lease, resources } of this.leases.values()) {
      if (Date.parse(lease.expiresAt) <= now) continue;
      for (const r of resources.values()) out.add(`${r.type}/${r.id}`);
    }
    return out;
  }

  /** Removes expired leases; returns their IDs. */
  async removeExpired(now = Date.now()): Promise<string[]> {
    const expired = [...this.leases.values()].filter(({ lease }) => Date.parse(lease.expiresAt) <= now).map(({ lease }) => lease.id);
    for (const id of expired) await this.delete(id);
    return expired;
  }

  /** Runs `fn` under a new lease, deleted when `fn` settles (a crash leaves it to the next start). */
  async withLease<T>(options: LeaseOptions, fn: (lease: Lease) => Promise<T>): Promise<T> {
    const lease = await this.create(options);
    try {
      return await fn(lease);
    } finally {
      await this.delete(lease.id);
    }
  }

  private deleteOps(leaseId: string): JournalOp[] {
    const ops: JournalOp[] = [['d', LEASE_PREFIX + leaseId]];
    const entry = this.leases.get(leaseId);
    for (const key of entry?.resources.keys() ?? []) ops.push(['d', key]);
    return ops;
  }

  private async append(ops: JournalOp[], durable: boolean): Promise<void> {
    if (this.file === undefined) return;
    if (!this.journal) throw failedPrecondition('lease store is not open');
    await this.journal.append(ops, { durable });
  }
}
