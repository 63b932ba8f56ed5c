import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { readJsonIfExists, removeStaleTempFiles, writeJsonAtomic } from '../util/atomic-fs';
import type { EndpointRecord, NetworkRecord } from './types';

interface StoreFile {
  schemaVersion: 1;
  networks: NetworkRecord[];
  endpoints: EndpointRecord[];
  /** The IDs of the built-in `host` and `none` networks, made once. */
  builtinIds?: Record<string, string>;
}

/**
 * Networks and their live endpoints (the IPAM's allocations), in one small JSON file written
 * atomically and fsync'd on every change, so allocations survive a daemon restart or a kill -9.
 */
export class NetworkStore {
  private readonly networks = new Map<string, NetworkRecord>();
  private readonly endpoints = new Map<string, EndpointRecord>();
  private readonly file: string;
  private saving: Promise<void> = Promise.resolve();
  private builtinIds: Record<string, string> = {};

  constructor(private readonly dir: string) {
    this.file = path.join(dir, 'networks.json');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await removeStaleTempFiles(this.dir);
    const saved = await readJsonIfExists<StoreFile>(this.file);
    if (saved && saved.schemaVersion !== 1) throw new Error(`${this.file}: unknown schema version ${String(saved.schemaVersion)}`);
    for (const network of saved?.networks ?? []) this.networks.set(network.Id, network);
    for (const endpoint of saved?.endpoints ?? []) this.endpoints.set(endpoint.EndpointID, endpoint);
    this.builtinIds = saved?.builtinIds ?? {};
  }

  /** The ID of a built-in network without a record (host, none), made and saved the first time. */
  async builtinId(name: string, make: () => string): Promise<string> {
    if (!this.builtinIds[name]) {
      this.builtinIds[name] = make();
      await this.save();
    }
    return this.builtinIds[name]!;
  }

  listNetworks(): NetworkRecord[] {
    return [...this.networks.values()];
  }

  network(id: string): NetworkRecord | undefined {
    return this.networks.get(id);
  }

  listEndpoints(): EndpointRecord[] {
    return [...this.endpoints.values()];
  }

  endpointsOfNetwork(networkId: string): EndpointRecord[] {
    return this.listEndpoints().filter((e) => e.NetworkID === networkId);
  }

  endpointsOfContainer(containerId: string): EndpointRecord[] {
    return this.listEndpoints().filter((e) => e.ContainerID === containerId);
  }

  async putNetwork(network: NetworkRecord): Promise<void> {
    this.networks.set(network.Id, network);
    await this.save();
  }

  async deleteNetwork(id: string): Promise<void> {
    this.networks.delete(id);
    await this.save();
  }

  async putEndpoint(endpoint: EndpointRecord): Promise<void> {
    this.endpoints.set(endpoint.EndpointID, endpoint);
    await this.save();
  }

  async deleteEndpoints(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    for (const id of ids) this.endpoints.delete(id);
    await this.save();
  }

  /** Writes one at a time, each taking the state when it starts, so the last write is the latest state. */
  private save(): Promise<void> {
    const write = async () => {
      const content: StoreFile = { schemaVersion: 1, networks: this.listNetworks(), endpoints: this.listEndpoints(), builtinIds: this.builtinIds };
      await writeJsonAtomic(this.file, content, 0o600, { durable: true });
    };
    const next = this.saving.then(write, write);
    this.saving = next.catch(() => undefined);
    return next;
  }
}
