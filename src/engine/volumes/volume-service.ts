import type { VolumesBackend, VolumeCreateRequest, VolumeListResponse } from '../../api/backend';
import type { Filters } from '../../api/types/common';
import type { Volume, VolumesPruneResponse } from '../../api/types/system';
import { invalidArgument, notFound } from '../../errors';
import { randomBytes } from 'node:crypto';
import type { LocalVolumes, VolumeRecord } from '../../volumes/local-volumes';
import type { Container, ContainerService } from '../containers/container-service';
import { parseBind } from '../containers/create-config';
import { ANONYMOUS_LABEL } from '../containers/anonymous-volumes';
import type { EventBus } from '../events/event-bus';

/** Containers (ids) whose binds or mounts use the named volume. */
export function containersUsingVolume(containers: readonly Container[], name: string): string[] {
  return containers
    .filter(
      (c) =>
        (c.HostConfig.Binds ?? []).some((b) => {
          const bind = parseBind(b);
          return bind.type === 'volume' && bind.source === name;
        }) ||
        (c.HostConfig.Mounts ?? []).some((m) => m.Type === 'volume' && m.Source === name) ||
        Object.values(c.AnonymousVolumes ?? {}).includes(name) ||
        (c.SharedMounts ?? []).some((m) => m.Type === 'volume' && m.Source === name),
    )
    .map((c) => c.Id);
}

export function toVolume(record: VolumeRecord, volumes: LocalVolumes): Volume {
  return {
    Name: record.Name,
    Driver: 'local',
    Mountpoint: volumes.dataPath(record.Name),
    CreatedAt: record.CreatedAt,
    Labels: record.Labels,
    Scope: 'local',
    Options: record.Options,
    UsageData: null,
  };
}

const FILTERS = new Set(['name', 'label', 'dangling', 'driver', 'all']);

function labelsMatch(labels: Record<string, string>, wanted: string[] | undefined): boolean {
  return (wanted ?? []).every((label) => {
    const eq = label.indexOf('=');
    const key = eq < 0 ? label : label.slice(0, eq);
    return key in labels && (eq < 0 || labels[key] === label.slice(eq + 1));
  });
}

/** The /volumes routes over the local volume store. */
export class VolumeService implements VolumesBackend {
  constructor(
    private readonly volumes: LocalVolumes,
    private readonly containers: ContainerService,
    private readonly events: EventBus,
  ) {}

  async list(filters: Filters): Promise<VolumeListResponse> {
    for (const key of Object.keys(filters)) if (!FILTERS.has(key)) throw invalidArgument(`invalid filter '${key}'`);
    const containers = this.containers.list();
    const dangling = filters.dangling?.[0];
    const records = (await this.volumes.list()).filter((record) => {
      if (filters.name?.length && !filters.name.some((n) => record.Name.includes(n))) return false;
      if (filters.driver?.length && !filters.driver.includes('local')) return false;
      if (!labelsMatch(record.Labels, filters.label)) return false;
      if (dangling !== undefined) {
        const unused = containersUsingVolume(containers, record.Name).length === 0;
        if (unused !== (dangling === 'true' || dangling === '1')) return false;
      }
      return true;
    });
    return { Volumes: records.map((r) => toVolume(r, this.volumes)), Warnings: [] };
  }

  async create(body: VolumeCreateRequest): Promise<Volume> {
    if (body.Driver && body.Driver !== 'local') throw invalidArgument(`error looking up volume plugin ${body.Driver}: plugin "${body.Driver}" not found`);
    // A volume berth names itself is anonymous, as in Docker ≥ 23 (prune removes those by default).
    const labels = body.Name ? (body.Labels ?? undefined) : { ...body.Labels, [ANONYMOUS_LABEL]: '' };
    const name = body.Name || randomVolumeName();
    const record = await this.volumes.create(name, { labels, driverOpts: body.DriverOpts ?? undefined });
    this.events.publish('volume', 'create', name, { driver: 'local' });
    return toVolume(record, this.volumes);
  }

  async inspect(name: string): Promise<Volume> {
    const record = await this.volumes.get(name);
    if (!record) throw notFound(`get ${name}: no such volume`);
    return toVolume(record, this.volumes);
  }

  async remove(name: string, opts: { force: boolean }): Promise<void> {
    const users = containersUsingVolume(this.containers.list(), name);
    if (opts.force && !(await this.volumes.get(name))) return;
    await this.volumes.remove(name, users);
    this.events.publish('volume', 'destroy', name, { driver: 'local' });
  }

  /**
   * Removes the unused local volumes the filters select: like Docker ≥ 23, only anonymous
   * ones (labelled `com.docker.volume.anonymous`) unless `all=true`. The route adds
   * `all=true` for clients of API < 1.42, which prune named volumes too.
   */
  async prune(filters: Filters): Promise<VolumesPruneResponse> {
    for (const key of Object.keys(filters)) if (!PRUNE_FILTERS.has(key)) throw invalidArgument(`invalid filter '${key}'`);
    const all = pruneAll(filters.all);
    const containers = this.containers.list();
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const record of await this.volumes.list()) {
      if (!all && !(ANONYMOUS_LABEL in record.Labels)) continue;
      if (!labelsMatch(record.Labels, filters.label)) continue;
      if ((filters['label!'] ?? []).some((label) => labelsMatch(record.Labels, [label]))) continue;
      if (containersUsingVolume(containers, record.Name).length > 0) continue;
      const size = await this.volumes.size(record.Name);
      await this.volumes.remove(record.Name);
      reclaimed += size;
      this.events.publish('volume', 'destroy', record.Name, { driver: 'local' });
      deleted.push(record.Name);
    }
    this.events.publish('volume', 'prune', '', { reclaimed: String(reclaimed) });
    return { VolumesDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: reclaimed };
  }
}

export { ANONYMOUS_LABEL };

const PRUNE_FILTERS = new Set(['label', 'label!', 'all']);

/** moby's withPrune: one Go bool at most. */
function pruneAll(values: string[] | undefined): boolean {
  if (!values || values.length === 0) return false;
  if (values.length > 1) throw invalidArgument(`invalid filter 'all=[${values.join(' ')}]': only one value is expected`);
  const value = values[0]!;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw invalidArgument(`invalid filter 'all': strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`);
}

function randomVolumeName(): string {
  return randomBytes(32).toString('hex');
}
