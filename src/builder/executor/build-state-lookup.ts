import type { ImageForContainer, ImageLookup } from '../../engine/containers/ports';
import type { Digest } from '../../util/digest';
import type { BuildState } from './build-state';

/**
 * The container service's image lookup, which also knows the states of builds in flight:
 * a RUN step's container is created on its parent state (by that state's ID) without the
 * state ever being registered as an image, so a build leaves no intermediate images.
 * States are counted, as two builds may share one (from the cache).
 */
export class BuildStateLookup implements ImageLookup {
  private readonly states = new Map<string, { state: BuildState; users: number }>();

  constructor(private readonly images: ImageLookup) {}

  /** Makes `state` resolvable by its ID until the returned release is called. */
  hold(state: BuildState): () => void {
    const entry = this.states.get(state.id);
    if (entry) entry.users++;
    else this.states.set(state.id, { state, users: 1 });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const e = this.states.get(state.id);
      if (e && --e.users <= 0) this.states.delete(state.id);
    };
  }

  async resolve(ref: string): Promise<ImageForContainer> {
    const entry = this.states.get(ref);
    if (entry) return { id: entry.state.id, config: entry.state.config.config ?? {}, chainId: entry.state.chainId };
    return this.images.resolve(ref);
  }

  async ensureUnpacked(image: ImageForContainer): Promise<Digest | null> {
    // A build state's layers are committed snapshots already (held by the build's lease).
    if (this.states.has(image.id)) return image.chainId as Digest | null;
    return this.images.ensureUnpacked(image);
  }

  holding<T>(fn: () => Promise<T>): Promise<T> {
    return this.images.holding(fn);
  }
}
