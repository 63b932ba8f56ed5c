import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { readJsonIfExists, removeStaleTempFiles, writeJsonAtomic } from '../util/atomic-fs';
import { conflict, invalidArgument, notFound, isENOENT } from '../errors';

/**
 * Container records, one directory per container: <root>/<id>/container.json plus the
 * container's own files (managed /etc files, log, bundle). The record is rewritten
 * atomically on every change; removal first renames the directory out of the way, so a
 * crash mid-removal never leaves a half record behind. Names are unique and indexed in
 * memory; the store is the single writer, so callers serialize per container.
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
}

export interface ContainerRecord<Config = Record<string, unknown>, HostConfig = Record<string, unknown>> {
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
}

/** Whether the container has a live process (running, or paused with its process frozen). */
export function isLive(container: { State: { Status: ContainerStatus } }): boolean {
  return container.State.Status === 'running' || container.State.Status === 'paused';
}

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

  constructor(readonly root: string) {}

  /** Loads every record; removes the leftovers of interrupted removals. */
  async init(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    await removeStaleTempFiles(this.root);
    for (const entry of await fs.readdir(this.root)) {
      if (entry.startsWith('.trash-')) {
        await fs.rm(path.join(this.root, entry), { recursive: true, force: true });
        continue;
      }
      const record = await readJsonIfExists<ContainerRecord>(path.join(this.root, entry, 'container.json'));
      if (!record) {
        // A directory without a record is a create that never finished.
        await fs.rm(path.join(this.root, entry), { recursive: true, force: true });
        continue;
      }
      this.records.set(record.Id, record);
      this.names.set(record.Name, record.Id);
    }
  }

  dir(id: string): string {
    return path.join(this.root, id);
  }

  list(): ContainerRecord[] {
    return [...this.records.values()];
  }

  /** Finds by full id, name (with or without '/'), or unique id prefix. */
  find(ref: string): ContainerRecord | undefined {
    const exact = this.records.get(ref);
    if (exact) return exact;
    const byName = this.names.get(ref.startsWith('/') ? ref : `/${ref}`);
    if (byName) return this.records.get(byName);
    if (!/^[a-f0-9]+$/.test(ref)) return undefined;
    const matches = [...this.records.keys()].filter((id) => id.startsWith(ref));
    if (matches.length > 1) throw invalidArgument(`multiple IDs found with provided prefix: ${ref}`);
    return matches.length === 1 ? this.records.get(matches[0]!) : undefined;
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
   * Writes the record (creating its directory) and makes it visible. Always atomic; with
   * `durable: false` it skips the fsyncs, for states a reboot makes moot anyway (a
   * "running" record means nothing once the machine restarted).
   */
  async save(record: ContainerRecord, options: { durable?: boolean } = {}): Promise<void> {
    await fs.mkdir(this.dir(record.Id), { recursive: true, mode: 0o700 });
    await writeJsonAtomic(path.join(this.dir(record.Id), 'container.json'), record, 0o600, { durable: options.durable });
    this.records.set(record.Id, record);
    this.names.set(record.Name, record.Id);
  }

  /** Removes the record and the container's directory; the record vanishes atomically first. */
  async delete(id: string): Promise<void> {
    const record = this.records.get(id);
    const trash = path.join(this.root, `.trash-${id}`);
    try {
      await fs.rename(this.dir(id), trash);
    } catch (err) {
      if (!isENOENT(err)) throw err;
    }
    this.records.delete(id);
    if (record) this.releaseName(record.Name, id);
    await fs.rm(trash, { recursive: true, force: true });
  }
}
