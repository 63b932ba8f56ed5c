import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { readJsonIfExists, removeStaleTempFiles, writeJsonAtomic } from '../util/atomic-fs';
import type { EndpointRecord, NetworkRecord } from './types';

interface StoreFile {
  schemaVersion: 1;
  networks: NetworkRecord[];
  /** Endpoints, in files written before they moved to endpoints.json (read once, then dropped). */
  endpoints?: EndpointRecord[];
  /** The IDs of the built-in `host` and `none` networks, made once. */
  builtinIds?: Record<string, string>;
}

interface EndpointsFile {
  schemaVersion: 1;
  endpoints: EndpointRecord[];
}

/**
 * Networks (networks.json, written atomically and fsync'd: they must survive a power loss)
 * and their live endpoints, the IPAM's allocations (endpoints.json, written atomically but not
 * fsync'd). An endpoint exists only while its container runs, and no container survives a
 * machine crash: after a kill -9 of the daemon the page cache still holds the last write, and
 * after a power loss a lost or torn endpoints file is read as empty and the start-up sweep
 * removes whatever it would have named. This keeps two fsyncs off every container start/exit.
 */
export class NetworkStore {
  private readonly networks = new Map<string, NetworkRecord>();
  private readonly endpoints = new Map<string, EndpointRecord>();
  private readonly file: string;
  private readonly endpointsFile: string;
  private saving: Promise<void> = Promise.resolve();
  private savingEndpoints: Promise<void> = Promise.resolve();
  private builtinIds: Record<string, string> = {};

  constructor(private readonly dir: string) {
    this.file = path.join(dir, 'networks.json');
    this.endpointsFile = path.join(dir, 'endpoints.json');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await removeStaleTempFiles(this.dir);
    const saved = await readJsonIfExists<StoreFile>(this.file);
    if (saved && saved.schemaVersion !== 1) throw new Error(`${this.file}: unknown schema version ${String(saved.schemaVersion)}`);
    for (const network of saved?.networks ?? []) this.networks.set(network.Id, network);
    const live = await readJsonIfExists<EndpointsFile>(this.endpointsFile).catch(() => undefined);
    for (const endpoint of live?.endpoints ?? saved?.endpoints ?? []) this.endpoints.set(endpoint.EndpointID, endpoint);
    this.builtinIds = saved?.builtinIds ?? {};
    if (saved?.endpoints) {
      await this.saveEndpoints();
      await this.save();
    }
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
    await this.saveEndpoints();
  }

  async deleteEndpoints(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    for (const id of ids) this.endpoints.delete(id);
    await this.saveEndpoints();
  }

  /** Writes one at a time, each taking the state when it starts, so the last write is the latest state. */
  private save(): Promise<void> {
    const write = async () => {
      const content: StoreFile = { schemaVersion: 1, networks: this.listNetworks(), builtinIds: this.builtinIds };
      await writeJsonAtomic(this.file, content, 0o600, { durable: true });
    };
    const next = this.saving.then(write, write);
    this.saving = next.catch(() => undefined);
    return next;
  }

  /** The same for the endpoints, not fsync'd (see the class comment). */
  private saveEndpoints(): Promise<void> {
    const write = async () => {
      const content: EndpointsFile = { schemaVersion: 1, endpoints: this.listEndpoints() };
      await writeJsonAtomic(this.endpointsFile, content, 0o600, { durable: false });
    };
    const next = this.savingEndpoints.then(write, write);
    this.savingEndpoints = next.catch(() => undefined);
    return next;
  }
}
