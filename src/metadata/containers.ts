import { mkdirSync, promises as fs, renameSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { readJsonIfExists, removeStaleTempFiles } from '../util/atomic-fs';
import { conflict, failedPrecondition, invalidArgument, notFound, isENOENT } from '../errors';
import { Journal } from './journal';
import { removeTree } from '../util/remove-tree';

/**
 * Container records, in an append-only journal (`<root>/containers.journal`, see
 * journal.ts), plus one directory per container for its own files (managed /etc files,
 * log, bundle). Every save is one journal batch; removal deletes the record first, then
 * the directory, and a directory without a record (a create or removal a crash cut short)
 * is removed at start. Records are indexed in memory by ID and by name. The store hands
 * out copies: a caller changes a record only by saving it, so what one holds cannot change
 * under it. The store is the single writer; callers serialize per container.
 */
export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerState {
  Status: ContainerStatus;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  OOMKilled: boolean;
  /** HEALTHCHECK state (src/engine/health), absent without a health check, as moby's. */
  Health?: {
    Status: 'none' | 'starting' | 'healthy' | 'unhealthy';
    FailingStreak: number;
    Log: { Start: string; End: string; ExitCode: number; Output: string }[];
  };
}

export interface ContainerRecord<Config = Record<string, unknown>, HostConfig = Record<string, unknown>> {
  /** Version of the record's shape, stamped by the store; an unknown one stops the daemon. */
  schemaVersion?: typeof CONTAINER_SCHEMA_VERSION;
  Id: string;
  /** With the leading slash, as Docker stores it. */
  Name: string;
  Created: string;
  /** What the user asked for (e.g. "busybox"). */
  ImageName: string;
  /** Config digest of the image. */
  ImageId: string;
  /** Top layer chain id of the image, null for scratch. */
  ImageChainId: string | null;
  Path: string;
  Args: string[];
  Config: Config;
  HostConfig: HostConfig;
  State: ContainerState;
  RestartCount: number;
  /** Set when the user stopped it, so restart policies leave it alone. */
  HasBeenManuallyStopped?: boolean;
  /** The volumes the container got for itself (Docker's anonymous volumes), by mount path; `rm -v` removes them. */
  AnonymousVolumes?: Record<string, string>;
  /** The mounts `--volumes-from` shares into it, resolved at create (engine/containers/shared-mounts.ts). */
  SharedMounts?: Array<{ Type?: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster' | 'image'; Source?: string; Target?: string; ReadOnly?: boolean }>;
  /**
   * The networks it is connected to, by name (create's NetworkingConfig, connect, disconnect):
   * the settings asked for; the live addresses are the network store's while it runs.
   */
  Networks?: Record<string, StoredEndpointConfig>;
}

/** A container's settings on one network, as asked for (moby's EndpointSettings' config part). */
export interface StoredEndpointConfig {
  NetworkID: string;
  Aliases?: string[];
  IPAMConfig?: { IPv4Address?: string };
  MacAddress?: string;
  DriverOpts?: Record<string, string>;
}

/** Whether the container has a live process (running, or paused with its process frozen). */
export function isLive(container: { State: { Status: ContainerStatus } }): boolean {
  return container.State.Status === 'running' || container.State.Status === 'paused';
}

export const CONTAINER_SCHEMA_VERSION = 1 as const;
const JOURNAL_NAME = 'containers.journal';
const ID_PATTERN = /^[a-f0-9]{64}$/;

const NAME_PATTERN = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const ZERO_TIME = '0001-01-01T00:00:00Z';

export function newContainerState(): ContainerState {
  return { Status: 'created', Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME, OOMKilled: false };
}

export function validateContainerName(name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  return name.startsWith('/') ? name : `/${name}`;
}

export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

export class ContainerStore {
  private readonly records = new Map<string, ContainerRecord>();
  private readonly names = new Map<string, string>();
  private journal: Journal | undefined;
  /** Removed containers' dirs being deleted (renamed to `.trash-<id>` first; init sweeps what a crash leaves). */
  private readonly trashing = new Set<Promise<void>>();

  constructor(
    readonly root: string,
    private readonly options: { durable?: boolean; minDeadLines?: number } = {},
  ) {}

  /**
   * Opens the journal and indexes every record; removes the leftovers of interrupted
   * creates and removals. The first start after an upgrade migrates the per-directory
   * `container.json` files into the journal (and then deletes them).
   */
  async init(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    await removeStaleTempFiles(this.root);
    const legacy: string[] = [];
    this.journal = await Journal.open(
      path.join(this.root, JOURNAL_NAME),
      { kind: 'containers', schemaVersion: CONTAINER_SCHEMA_VERSION, ...this.options },
      async () => {
        const seed = new Map<string, unknown>();
        for (const entry of await fs.readdir(this.root)) {
          if (!ID_PATTERN.test(entry)) continue;
          const file = path.join(this.root, entry, 'container.json');
          const record = await readJsonIfExists<ContainerRecord>(file);
          if (!record) continue;
          seed.set(record.Id, { ...record, schemaVersion: CONTAINER_SCHEMA_VERSION });
          legacy.push(file);
        }
        return seed;
      },
    );
    for (const file of legacy) await fs.rm(file, { force: true });
    for (const [id, value] of this.journal.records) {
      const record = value as ContainerRecord;
      if (record.schemaVersion !== CONTAINER_SCHEMA_VERSION) {
        throw failedPrecondition(
          `metadata store ${this.journal.file} holds container ${id} with schema version ${String(record.schemaVersion)}, which this berth does not know (it knows ${CONTAINER_SCHEMA_VERSION}); refusing to start`,
        );
      }
      this.records.set(id, deepFreeze(record));
      this.names.set(record.Name, id);
    }
    for (const entry of await fs.readdir(this.root)) {
      if (entry === JOURNAL_NAME) continue;
      if (entry.startsWith('.trash-') || (ID_PATTERN.test(entry) && !this.records.has(entry))) {
        // A removal that did not finish, or a create that never recorded its container.
        await removeTree(path.join(this.root, entry));
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.trashing);
    await this.journal?.close();
  }

  dir(id: string): string {
    return path.join(this.root, id);
  }

  /**
   * Every record, read-only: the stored records are frozen, so a caller cannot change one
   * behind the store (copying 2,000 records for every `ps -a` is what this avoids). To
   * change one, `get` a copy and `save` it.
   */
  list(): readonly ContainerRecord[] {
    return [...this.records.values()];
  }

  count(): number {
    return this.records.size;
  }

  /** A container's status without copying its record (undefined when there is none). */
  statusOf(id: string): ContainerStatus | undefined {
    return this.records.get(id)?.State.Status;
  }

  /** What each container references (the garbage collector's roots), without copying records. */
  references(): Array<{ id: string; imageId: string; chainId: string | null }> {
    return [...this.records.values()].map((r) => ({ id: r.Id, imageId: r.ImageId, chainId: r.ImageChainId }));
  }

  /** Finds by full id, name (with or without '/'), or unique id prefix; a copy. */
  find(ref: string): ContainerRecord | undefined {
    const id = this.findId(ref);
    const record = id === undefined ? undefined : this.records.get(id);
    return record && structuredClone(record);
  }

  /** The ID `ref` names (full id, name, or unique id prefix). */
  findId(ref: string): string | undefined {
    if (this.records.has(ref)) return ref;
    const byName = this.names.get(ref.startsWith('/') ? ref : `/${ref}`);
    if (byName !== undefined && this.records.has(byName)) return byName;
    if (!/^[a-f0-9]+$/.test(ref)) return undefined;
    let match: string | undefined;
    for (const id of this.records.keys()) {
      if (!id.startsWith(ref)) continue;
      if (match !== undefined) throw invalidArgument(`multiple IDs found with provided prefix: ${ref}`);
      match = id;
    }
    return match;
  }

  get(ref: string): ContainerRecord {
    const record = this.find(ref);
    if (!record) throw notFound(`No such container: ${ref}`);
    return record;
  }

  /** True when a container has the name or a create in progress reserved it. */
  isNameTaken(name: string): boolean {
    return this.names.has(name.startsWith('/') ? name : `/${name}`);
  }

  reserveName(name: string, id: string): void {
    const owner = this.names.get(name);
    if (owner !== undefined && owner !== id) {
      throw conflict(
        `Conflict. The container name "${name}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    this.names.set(name, id);
  }

  releaseName(name: string, id: string): void {
    if (this.names.get(name) === id) this.names.delete(name);
  }

  /**
   * Records a copy of `record` (creating its directory) and makes it visible. Always
   * atomic; with `durable: false` the batch is not fsynced, for states a reboot makes moot
   * anyway (a "running" record means nothing once the machine restarted).
   */
  async save(record: ContainerRecord, options: { durable?: boolean } = {}): Promise<void> {
    if (!this.journal) throw failedPrecondition('container store is not open');
    // Synchronous, as the journal's write: microseconds, where a thread-pool round trip costs ~0.3 ms.
    mkdirSync(this.dir(record.Id), { recursive: true, mode: 0o700 });
    const copy = deepFreeze(structuredClone({ ...record, schemaVersion: CONTAINER_SCHEMA_VERSION }));
    await this.journal.append([['p', record.Id, copy]], { durable: options.durable });
    const previous = this.records.get(record.Id);
    if (previous && previous.Name !== copy.Name) this.releaseName(previous.Name, record.Id);
    this.records.set(record.Id, copy);
    this.names.set(copy.Name, record.Id);
  }

  /**
   * Removes the record (atomically, first) and then the container's directory. `durable:
   * false`: not fsynced (a machine crash may bring the record back), for a --rm container,
   * which the daemon removes at start anyway.
   */
  async delete(id: string, options: { durable?: boolean } = {}): Promise<void> {
    if (!this.journal) throw failedPrecondition('container store is not open');
    const record = this.records.get(id);
    if (record) await this.journal.append([['d', id]], { durable: options.durable });
    this.records.delete(id);
    if (record) this.releaseName(record.Name, id);
    const trash = path.join(this.root, `.trash-${id}`);
    try {
      renameSync(this.dir(id), trash);
    } catch (err) {
      if (!isENOENT(err)) throw err;
      return;
    }
    // Its files (logs, bundle, /etc files) go in the background: the removal is done once the
    // dir is renamed away (a `run --rm` answers its wait ~3 ms sooner).
    const trashed: Promise<void> = removeTree(trash)
      .catch(() => undefined)
      .finally(() => this.trashing.delete(trashed));
    this.trashing.add(trashed);
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
