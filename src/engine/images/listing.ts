import type { HistoryResponseItem, ImageInspect, ImageSummary } from '../../api/types/images';
import { Digest, chainIds } from '../../util/digest';
import { invalidArgument, isInvalidArgument } from '../../errors';
import { familiarMatch, familiarName, familiarString } from '../../images/reference';
import type { ImageRecord } from '../../metadata/images';
import { matchLabels, parseUntil } from './filters';
import type { ImageResolver, ImageStores } from './resolver';
import { toHistory, toInspect, toSummary, unixSeconds } from './views';
import type { Reference } from '../../images/reference';
import { deepFreeze } from '../../util/deep-freeze';
import { mapLimit } from '../../util/map-limit';
import type { ImageUsage, ListImagesOptions, ResolvedImage } from './types';

const LIST_FILTERS = new Set(['dangling', 'label', 'before', 'since', 'reference', 'until']);

/** Parsing manifests and configs not seen yet, this many at once (the first listing after a start reads them all). */
const PARSE_CONCURRENCY = 16;

/** One image's summary, valid while its record, its refs and its size are what they were. */
interface SummaryEntry {
  record: ImageRecord;
  refs: readonly Reference[];
  /** `cachedSize` when it was made (undefined: some layer size was not known yet). */
  size: number | undefined;
  /** Deeply frozen: the same object is handed out until the image changes, so the API can keep its encoding. */
  summary: ImageSummary;
}

/** Read-only views: `images` with Docker's filters, inspect, history, and `system df`'s image part. */
export class ImageListing {
  /** The unfiltered listing (what `docker images` asks for), until the records change. */
  private unfiltered: { version: string; all: boolean; result: readonly ImageSummary[] } | undefined;
  /** Per image, so a change to one image rebuilds one summary, not 10,000. */
  private readonly summaries = new Map<Digest, SummaryEntry>();

  constructor(
    private readonly stores: ImageStores,
    private readonly resolver: ImageResolver,
  ) {}

  /** Summaries are frozen (shared between calls until their image changes); copy one to change it. */
  async list(opts: ListImagesOptions = {}): Promise<ImageSummary[]> {
    const filters = opts.filters ?? {};
    if (Object.keys(filters).length > 0) return this.compute(opts);
    const version = this.resolver.viewVersion;
    const all = opts.all ?? false;
    if (this.unfiltered?.version !== version || this.unfiltered.all !== all) {
      this.unfiltered = { version, all, result: await this.compute(opts) };
    }
    return this.unfiltered.result.slice();
  }

  private async compute(opts: ListImagesOptions): Promise<ImageSummary[]> {
    const { metadata } = this.stores;
    const filters = opts.filters ?? {};
    for (const key of Object.keys(filters)) if (!LIST_FILTERS.has(key)) throw invalidArgument(`invalid filter '${key}'`);
    const danglingValues = filters.dangling ?? [];
    for (const v of danglingValues) if (v !== 'true' && v !== 'false' && v !== '1' && v !== '0') throw invalidArgument(`invalid filter 'dangling=${v}'`);
    const danglingOnly = danglingValues.some((v) => v === 'true' || v === '1');
    const beforeTimes = await Promise.all((filters.before ?? []).map(async (n) => unixSeconds((await this.resolver.resolve(n)).created)));
    const sinceTimes = await Promise.all((filters.since ?? []).map(async (n) => unixSeconds((await this.resolver.resolve(n)).created)));
    const until = (filters.until ?? []).map(parseUntil);
    const patterns = filters.reference ?? [];

    const records = metadata.list();
    await this.parseMissing(records);
    const result: ImageSummary[] = [];
    for (const record of records) {
      const summary = await this.summaryOf(record);
      const created = summary.Created;
      if (beforeTimes.some((t) => created >= t)) continue;
      if (sinceTimes.some((t) => created <= t)) continue;
      if (until.some((t) => created > t)) continue;
      if (!matchLabels(filters.label ?? [], summary.Labels)) continue;
      let { RepoTags: repoTags, RepoDigests: repoDigests } = summary;
      if (patterns.length > 0) {
        repoTags = [];
        repoDigests = [];
        for (const ref of metadata.refsOf(record.id)) {
          if (!patterns.some((p) => familiarMatch(p, ref))) continue;
          if (ref.digest !== undefined) repoDigests.push(`${familiarName(ref)}@${ref.digest}`);
          else repoTags.push(familiarString(ref));
        }
      }
      if (repoTags.length === 0 && repoDigests.length === 0) {
        const intermediate = metadata.children(record.id).length > 0;
        if (intermediate && !opts.all) continue;
        if (danglingValues.length > 0 && !danglingOnly) continue;
        if (patterns.length > 0) continue;
      } else if (danglingOnly && repoTags.length > 0) {
        continue;
      }
      result.push(patterns.length > 0 ? { ...summary, RepoTags: repoTags, RepoDigests: repoDigests } : summary);
    }
    if (this.summaries.size > records.length) this.dropRemoved(records);
    return result.sort((a, b) => b.Created - a.Created || a.Id.localeCompare(b.Id));
  }

  /** The image's unfiltered summary: the one made before while its record, refs and size are unchanged. */
  private async summaryOf(record: ImageRecord): Promise<ImageSummary> {
    const refs = this.stores.metadata.refsOf(record.id);
    const size = this.resolver.cachedSize(record);
    const cached = this.summaries.get(record.id);
    if (cached && cached.record === record && cached.refs === refs && cached.size === size) return cached.summary;
    const image = this.resolver.resolvedIfCached(record) ?? (await this.resolver.toResolved(record));
    const summary = toSummary(image);
    // Its own Labels: the config's object stays unfrozen.
    deepFreeze(Object.assign(summary, { Labels: { ...summary.Labels } }));
    this.summaries.set(record.id, { record, refs, size: this.resolver.cachedSize(record), summary });
    return summary;
  }

  /** Reads the manifests and configs of images not parsed yet, several at a time. */
  private async parseMissing(records: ImageRecord[]): Promise<void> {
    const missing = records.filter((r) => !this.summaries.has(r.id) && this.resolver.cachedSize(r) === undefined);
    await mapLimit(missing, PARSE_CONCURRENCY, (r) => this.resolver.toResolved(r));
  }

  private dropRemoved(records: ImageRecord[]): void {
    const live = new Set(records.map((r) => r.id));
    for (const id of this.summaries.keys()) if (!live.has(id)) this.summaries.delete(id);
  }

  async inspect(name: string): Promise<ImageInspect> {
    const image = await this.resolver.resolve(name);
    return toInspect(image, await this.resolver.graphDriverData(image));
  }

  async history(name: string): Promise<HistoryResponseItem[]> {
    const image = await this.resolver.resolve(name);
    const items = toHistory(image, await this.resolver.layerSizes(image));
    // As dockerd: the entries from the top down get the image's ID and tags, then its
    // parent's, and so on while parents are known (commit and build record them); the
    // rest stay <missing>.
    let current: ResolvedImage | undefined = image;
    for (const item of items) {
      if (current === undefined) break;
      item.Id = current.id;
      item.Tags = current.repoTags.length > 0 ? current.repoTags : null;
      const parent: ImageRecord | undefined = current.record.parent ? this.stores.metadata.get(current.record.parent) : undefined;
      current = parent ? await this.resolver.toResolved(parent) : undefined;
    }
    return items;
  }

  /**
   * `ps --filter ancestor=`: the images named and every image committed or built on them.
   * A name that resolves to no image adds nothing, as dockerd (which only logs a warning).
   */
  async withDescendants(names: readonly string[]): Promise<Set<Digest>> {
    const ids = new Set<Digest>();
    const add = (id: Digest): void => {
      if (ids.has(id)) return;
      ids.add(id);
      for (const child of this.stores.metadata.children(id)) add(child.id);
    };
    for (const name of names) {
      const image = await this.resolver.find(name).catch((err: unknown) => {
        if (isInvalidArgument(err)) return undefined;
        throw err;
      });
      if (image) add(image.id);
    }
    return ids;
  }

  /** `docker system df`: every image with its container count and shared size, and the layers' total. */
  async diskUsage(usage: ImageUsage): Promise<{ LayersSize: number; Images: ImageSummary[] }> {
    const { metadata, layers } = this.stores;
    const images = await Promise.all(metadata.list().map((r) => this.resolver.toResolved(r)));
    const chainUsers = new Map<Digest, number>();
    for (const image of images) for (const c of chainIds(image.diffIds)) chainUsers.set(c, (chainUsers.get(c) ?? 0) + 1);
    let layersSize = 0;
    for (const layer of await layers.list()) layersSize += layer.size;
    const summaries: ImageSummary[] = [];
    for (const image of images) {
      const chains = chainIds(image.diffIds);
      let shared = 0;
      for (const c of chains) {
        if ((chainUsers.get(c) ?? 0) > 1) shared += (await layers.get(c))?.size ?? 0;
      }
      summaries.push({ ...toSummary(image), SharedSize: shared, Containers: usage.containers(image.id).length });
    }
    return { LayersSize: layersSize, Images: summaries };
  }
}
