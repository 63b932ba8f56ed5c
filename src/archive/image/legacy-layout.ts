import type { Digest } from '../../util/digest';
import { Digester } from '../../util/digest';
import { EngineError, invalidArgument, messageOf } from '../../errors';
import { ingestNew } from '../../content/ingest-new';
import { Descriptor, parseImageConfig } from '../../images/models';
import { decompressStream } from '../../images/compression';
import { Reference, isValidTag, parseNormalizedNamed } from '../../images/reference';
import type { ArchiveFiles } from './read-archive';
import type { PlanStore, PlannedImage } from './load-plan';
import { blobCompression, layerMediaType } from './load-plan';
import { goObject, goString, rawMembers } from './go-json';
import { decodeV1Image, encodeV1Image, historyOfV1Image, v1String } from './v1-image';

/**
 * A pre-1.10 `docker save` archive: a `repositories` file ({"name": {"tag": "<layer id>"}})
 * and a directory per layer holding `json` (the v1 image: id, parent, created, config,
 * container_config, ...), `VERSION` and `layer.tar`. As dockerd's legacy load does, every
 * layer directory becomes an image on top of its parent's: its config is the layer's json
 * without id/parent/Size/parent_id/layer_id/throwaway, plus `rootfs.diff_ids` of the layers
 * up to it and a `history` with one entry per layer (created, author, container_config.Cmd
 * joined, comment), written as Go's encoding/json writes it, so the image IDs are the ones
 * dockerd computes (for json from Docker before 1.8.3, after the re-encoding dockerd does
 * first: v1-image.ts).
 */

/** Docker versions before this wrote v1 json that dockerd re-encodes first (v1-image.ts). */
const FALLBACK_BEFORE = '1.8.3';

/** v1 json keys a config does not keep (moby's MakeConfigFromV1Config). */
const DROPPED_KEYS = ['id', 'parent', 'Size', 'parent_id', 'layer_id', 'throwaway'];

interface HistoryItem {
  created: string;
  author?: string;
  created_by?: string;
  comment?: string;
}

interface BuiltLayer {
  id: Digest;
  diffIds: Digest[];
  history: HistoryItem[];
  layers: Descriptor[];
}

export async function planLegacyLoad(files: ArchiveFiles, store: PlanStore): Promise<PlannedImage[]> {
  const { content } = store;
  const readText = async (name: string): Promise<string> => {
    const f = files.get(name);
    if (!f) throw invalidArgument(`invalid archive: ${name} is missing`);
    return (await content.readBlob(f.digest)).toString();
  };
  const repositories = parseRepositories(await readText('repositories'));

  // Every top-level directory with files in it is a layer.
  const layerIds = [...new Set([...files.keys()].filter((n) => n.includes('/')).map((n) => n.slice(0, n.indexOf('/'))))].sort();
  const built = new Map<string, BuiltLayer>();
  const planned: PlannedImage[] = [];

  const build = async (layerId: string, path: string[]): Promise<BuiltLayer> => {
    const done = built.get(layerId);
    if (done) return done;
    if (path.includes(layerId)) throw invalidArgument(`invalid archive: ${layerId}/json: its parent chain loops (${[...path, layerId].join(' → ')})`);
    const jsonName = `${layerId}/json`;
    const text = await readText(jsonName);
    const fail = (what: string) => invalidArgument(`invalid archive: ${jsonName}: ${what}`);
    let v1: Record<string, unknown>;
    try {
      v1 = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw fail(messageOf(err));
    }
    if (typeof v1 !== 'object' || v1 === null || Array.isArray(v1)) throw fail('not a JSON object');
    const image = decodeV1Image(v1, jsonName);
    const os = v1String(image, 'os');
    if (os !== '' && os !== 'linux') throw invalidArgument(`cannot load ${os} image on linux`);
    const parentId = v1String(image, 'parent');
    let parent: BuiltLayer | undefined;
    if (parentId !== '') {
      if (!layerIds.includes(parentId)) throw fail(`parent layer ${parentId} is not in the archive`);
      parent = await build(parentId, [...path, layerId]);
    }

    const layerName = `${layerId}/layer.tar`;
    const layerFile = files.get(layerName);
    if (!layerFile) throw invalidArgument(`invalid archive: ${layerName} is missing`);
    const compression = await blobCompression(content, layerFile.digest);
    const diffId = compression === 'none' ? layerFile.digest : await uncompressedDigest(store, layerFile.digest, layerName);
    const diffIds = [...(parent?.diffIds ?? []), diffId];
    const history = [...(parent?.history ?? []), historyOfV1Image(image)];

    const members = rawMembers(versionLessThan(v1String(image, 'docker_version'), FALLBACK_BEFORE) ? encodeV1Image(image) : text);
    for (const key of DROPPED_KEYS) members.delete(key);
    members.set('rootfs', `{"type":"layers","diff_ids":[${diffIds.map(goString).join(',')}]}`);
    members.set('history', `[${history.map(historyJson).join(',')}]`);
    const configBytes = Buffer.from(goObject(members));
    const blob = await ingestNew(content, configBytes);
    if (blob.added) store.newBlobs.add(blob.digest);
    const config = parseImageConfig(configBytes);

    const layers = [...(parent?.layers ?? []), { mediaType: layerMediaType(compression), digest: layerFile.digest, size: layerFile.size }];
    const layer: BuiltLayer = { id: blob.digest, diffIds, history, layers };
    built.set(layerId, layer);
    planned.push({
      config,
      configBlob: { digest: blob.digest, size: blob.size },
      layers,
      ...(parent ? { parent: parent.id } : {}),
      tags: [],
      digestRefs: [],
      report: false,
    });
    return layer;
  };

  for (const layerId of layerIds) await build(layerId, []);

  for (const [name, tags] of repositories) {
    for (const [tag, layerId] of tags) {
      const layer = built.get(layerId);
      if (!layer) throw invalidArgument(`invalid archive: repositories: invalid target ID: ${layerId}`);
      const image = planned.find((p) => p.configBlob.digest === layer.id) as PlannedImage;
      image.tags.push({ ...name, tag });
    }
  }
  return planned;
}

/** repositories: {"name": {"tag": "<layer id>"}}, names and tags checked as Docker checks them. */
function parseRepositories(text: string): Array<[Reference, Array<[string, string]>]> {
  const fail = (what: string) => invalidArgument(`invalid archive: repositories: ${what}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw fail(messageOf(err));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('not a JSON object of repositories');
  const out: Array<[Reference, Array<[string, string]>]> = [];
  for (const [name, tags] of Object.entries(value as Record<string, unknown>)) {
    if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) throw fail(`${JSON.stringify(name)} is not an object of tags`);
    let ref: Reference;
    try {
      ref = parseNormalizedNamed(name);
    } catch (err) {
      throw fail(`${JSON.stringify(name)}: ${messageOf(err)}`);
    }
    if (ref.tag !== undefined || ref.digest !== undefined) throw fail(`${JSON.stringify(name)} is not a repository name`);
    const pairs: Array<[string, string]> = [];
    for (const [tag, id] of Object.entries(tags as Record<string, unknown>)) {
      if (!isValidTag(tag)) throw fail(`invalid tag ${JSON.stringify(tag)} for ${name}`);
      if (typeof id !== 'string') throw fail(`the layer ID of ${name}:${tag} is not a string`);
      pairs.push([tag, id]);
    }
    out.push([{ domain: ref.domain, path: ref.path }, pairs]);
  }
  return out;
}

/** image.History as Go writes it: created always, the rest omitted when empty. */
function historyJson(h: HistoryItem): string {
  const parts = [`"created":${goString(h.created)}`];
  if (h.author) parts.push(`"author":${goString(h.author)}`);
  if (h.created_by) parts.push(`"created_by":${goString(h.created_by)}`);
  if (h.comment) parts.push(`"comment":${goString(h.comment)}`);
  return `{${parts.join(',')}}`;
}

/** The diff ID of a compressed layer.tar: the sha256 of its uncompressed bytes. */
async function uncompressedDigest(store: PlanStore, digest: Digest, name: string): Promise<Digest> {
  const digester = new Digester();
  try {
    const { stream } = await decompressStream(store.content.createReadStream(digest));
    for await (const chunk of stream) digester.update(chunk as Buffer);
  } catch (err) {
    if (err instanceof EngineError) throw err;
    throw invalidArgument(`invalid archive: ${name}: ${messageOf(err)}`, err);
  }
  return digester.digest();
}

/** moby's versions.LessThan: dotted numbers compared piecewise, a missing or bad piece is 0. */
function versionLessThan(v: string, other: string): boolean {
  const a = v.split('.');
  const b = other.split('.');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = /^\d+$/.test(a[i] ?? '') ? Number(a[i]) : 0;
    const y = /^\d+$/.test(b[i] ?? '') ? Number(b[i]) : 0;
    if (x !== y) return x < y;
  }
  return false;
}
