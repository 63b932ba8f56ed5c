import type { ResolvedImage } from '../../engine/images/types';
import type { HistoryEntry, ImageConfig, ImageRunConfig } from '../../images/models';
import { chainIds } from '../../util/digest';
import { imageState } from './base-image';
import { makeState, withConfig, withLayer, type BuildState } from './build-state';

/**
 * `--cache-from`: images whose history serves as cache, as dockerd 20.10's classic builder
 * uses them (image/cache ImageCache.GetCache). A source matches a step when the parent
 * state's history and layers are the start of the source's, and the source's next history
 * entry was made by the same command (its created_by equals the step's). The step then
 * takes that entry and its layer; at the source's last entry the state is the source image
 * itself, so a build that matches all along gives the source's image ID. After a match in
 * the middle, only that source is followed (dockerd: "avoid jumping to different target").
 */
export class CacheFromSources {
  constructor(private sources: ResolvedImage[]) {}

  get empty(): boolean {
    return this.sources.length === 0;
  }

  /** The state is a source, or on the way to one (dockerd's isParent): a local cache hit then keeps the sources in reach. */
  leadsTo(state: BuildState): boolean {
    return this.sources.some((t) => t.id === state.id || continues(t.config, state.config));
  }

  /** The state the step gives from a source, if one matches; `runConfig`, `author`: the step's, for a restored state's config. */
  match(parent: BuildState, createdBy: string, runConfig: ImageRunConfig, author: string | undefined): BuildState | undefined {
    const index = parent.config.history?.length ?? 0;
    for (const target of this.sources) {
      const history = target.config.history ?? [];
      if (!continues(target.config, parent.config) || history[index]?.created_by !== createdBy) continue;
      if (index === history.length - 1) return imageState(target);
      this.sources = [target];
      return restore(parent, target, index, runConfig, author);
    }
    return undefined;
  }
}

/** restoreCachedImage: the parent plus the source's entry at `index` and, when it made one, its layer. */
function restore(parent: BuildState, target: ResolvedImage, index: number, runConfig: ImageRunConfig, author: string | undefined): BuildState {
  const entry = (target.config.history ?? [])[index];
  if (entry.empty_layer) return withConfig(parent, runConfig, entry, author);
  // The layer of history entry `index` is the one after those of the entries with a layer before it.
  const k = (target.config.history ?? []).slice(0, index).filter((h) => !h.empty_layer).length;
  const diffId = target.diffIds[k];
  const chainId = chainIds(target.diffIds)[k];
  const descriptor = target.manifest.layers[k];
  if (diffId === undefined || descriptor === undefined) return withConfig(parent, runConfig, entry, author);
  const state = withLayer(parent, runConfig, entry, { chainId, diffId, tarSize: descriptor.size }, author);
  // The source's own layer descriptor (compressed or not, as stored), so its blob is the one referenced.
  return makeState(state.config, [...parent.layers, descriptor], state.chainId);
}

/** isValidParent: the source has more history than the parent, and the parent's history and diff IDs start it. */
function continues(img: ImageConfig, parent: ImageConfig): boolean {
  const imgHistory = img.history ?? [];
  const parentHistory = parent.history ?? [];
  if (imgHistory.length === 0) return false;
  if (parentHistory.length === 0 && parent.rootfs.diff_ids.length === 0) return true;
  if (parentHistory.length >= imgHistory.length) return false;
  if (parent.rootfs.diff_ids.length > img.rootfs.diff_ids.length) return false;
  return parentHistory.every((h, i) => sameEntry(h, imgHistory[i])) && parent.rootfs.diff_ids.every((d, i) => d === img.rootfs.diff_ids[i]);
}

function sameEntry(a: HistoryEntry, b: HistoryEntry): boolean {
  const time = (t: string | undefined) => (t === undefined ? undefined : Date.parse(t));
  return time(a.created) === time(b.created) && (a.created_by ?? '') === (b.created_by ?? '') && (a.author ?? '') === (b.author ?? '') && (a.comment ?? '') === (b.comment ?? '') && !!a.empty_layer === !!b.empty_layer;
}
