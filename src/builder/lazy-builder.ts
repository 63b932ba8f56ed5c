import type { BuildCacheStore, BuildEvent, BuildRequest, BuildResult, ImageBuilder } from './types';

/**
 * An ImageBuilder whose executor is made on the first build: the Dockerfile executor and its
 * parser are code an idle daemon does not need (bench: daemon idle RSS). The build cache is
 * there from the start (`system df`, `builder prune`).
 */
export class LazyImageBuilder implements ImageBuilder {
  private builder: ImageBuilder | undefined;

  constructor(
    private readonly make: () => ImageBuilder,
    readonly cache: BuildCacheStore | undefined,
  ) {}

  build(request: BuildRequest, onEvent: (event: BuildEvent) => void): Promise<BuildResult> {
    this.builder ??= this.make();
    return this.builder.build(request, onEvent);
  }
}
