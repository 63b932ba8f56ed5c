import type { Readable } from 'node:stream';
import { isLive } from '../../metadata/containers';
import type { ImageImportOptions, ImageListOptions, ImagePullOptions, ImagesBackend } from '../../api/backend';
import type { Filters, JsonStreamMessage } from '../../api/types/common';
import type { ContainerCreateRequest } from '../../api/types/containers';
import type { HistoryResponseItem, ImageDeleteResponseItem, ImageInspect, ImagePruneResponse, ImageSummary } from '../../api/types/images';
import { errorKind, internal, invalidArgument, messageOf, notImplemented } from '../../errors';
import { AsyncQueue } from '../../util/async-queue';
import { isDigest } from '../../util/digest';
import { Reference, familiarName, familiarString, isValidTag, parseNormalizedNamed } from '../../images/reference';
import { parsePlatform } from '../../registry/client/platform';
import type { AuthConfig } from '../../registry/client/types';
import { PullProgress } from './pull/pull-progress';
import type { Digest } from '../../util/digest';
import type { Container, ContainerService } from '../containers/container-service';
import type { CommitContainerOptions, ImageCommitter } from '../containers/containers-backend';
import type { EventBus } from '../events/event-bus';
import type { ImageService } from './image-service';
import { pushTarget, type PushSessions } from './push/pusher';
import type { RegistryHosts } from '../../registry/client/types';
import { decodeRegistryAuth } from '../../registry/client/registry-auth-header';
import type { ImageUsage } from './types';
import type { DockerContainerConfig, ImageRunConfig } from '../../images/models';

/** Maps the Engine API's image routes onto the image service; tells it which images containers use. */
export class ImagesBackendImpl implements ImagesBackend, ImageCommitter {
  constructor(
    private readonly images: ImageService,
    private readonly containers: ContainerService,
    private readonly events: EventBus,
    /** The registry client (pull, push); without it those routes answer 501. */
    private readonly registry?: RegistryHosts,
  ) {}

  /** Which containers use an image, and which layer chains are under a container. */
  usage(): ImageUsage {
    const containers = this.containers.list();
    const chains = this.containers.chainIdsInUse();
    return {
      containers: (imageId) =>
        containers.filter((c) => c.ImageId === imageId).map((c) => ({ id: c.Id, running: isLive(c) })),
      layerInUse: (chainId) => chains.has(chainId),
    };
  }

  /** SharedSize and Containers stay -1 here as in Docker; /system/df computes them. */
  list(opts: ImageListOptions): Promise<ImageSummary[]> {
    return this.images.list({ all: opts.all, filters: opts.filters });
  }

  inspect(name: string): Promise<ImageInspect> {
    return this.images.inspect(name);
  }

  history(name: string): Promise<HistoryResponseItem[]> {
    return this.images.history(name);
  }

  async tag(name: string, repo: string, tag: string | undefined): Promise<void> {
    await this.images.tag(name, repo, tag);
    const image = await this.images.resolve(name);
    this.events.publish('image', 'tag', image.id, { name: `${repo}:${tag || 'latest'}` });
  }

  async remove(name: string, opts: { force: boolean; noPrune: boolean }): Promise<ImageDeleteResponseItem[]> {
    const items = await this.images.remove(name, { force: opts.force, noprune: opts.noPrune }, this.usage());
    for (const item of items) {
      if (item.Untagged) this.events.publish('image', 'untag', item.Untagged, { name: item.Untagged });
      if (item.Deleted) this.events.publish('image', 'delete', item.Deleted, { name: item.Deleted });
    }
    return items;
  }

  save(names: string[]): Promise<Readable> {
    if (names.length === 0) throw invalidArgument('no images specified');
    return this.images.save(names);
  }

  async *load(tar: Readable, opts: { quiet: boolean }): AsyncIterable<JsonStreamMessage> {
    const result = await this.images.load(tar, { quiet: opts.quiet });
    for (const id of result.ids) this.events.publish('image', 'load', id, {});
    for (const line of result.loaded) yield { stream: `${line}\n` };
  }

  async *import(opts: ImageImportOptions): AsyncIterable<JsonStreamMessage> {
    if (opts.fromSrc !== '-') throw notImplemented(`importing from a URL is not supported: ${opts.fromSrc}`);
    if (opts.platform && !/^linux(\/(amd64|x86_64))?$/.test(opts.platform)) throw invalidArgument(`unsupported platform: ${opts.platform}`);
    const id = await this.images.importTarball(opts.body, { repo: opts.repo, tag: opts.tag, changes: opts.changes, message: opts.message });
    this.events.publish('image', 'import', id, {});
    yield { status: id };
  }

  /**
   * `POST /images/create?fromImage=`: dockerd's progress messages while the pull runs. A
   * failure before the first message (a bad name, an unknown tag) is the HTTP error; a later
   * one ends the stream with an errorDetail line.
   */
  pull(opts: ImagePullOptions): AsyncIterable<JsonStreamMessage> {
    const { ref, allTags } = pullReference(opts.fromImage, opts.tag);
    const platform = opts.platform !== undefined ? parsePlatform(opts.platform) : undefined;
    const queue = new AsyncQueue<JsonStreamMessage>();
    const progress = new PullProgress((message) => queue.push(message));
    this.images
      .pull(ref, allTags, { platform, auth: pullAuth(opts.registryAuth), signal: opts.signal, progress })
      .then(
        () => {
          // As dockerd: the reference as pulled is the actor, its name without tag the attribute.
          this.events.publish('image', 'pull', familiarString(ref), { name: familiarName(ref) });
          queue.end();
        },
        // dockerd answers a registry it cannot reach with a 500, not a 503.
        (err: unknown) => queue.fail(errorKind(err) === 'Unavailable' ? internal(messageOf(err), err) : err),
      );
    return queue;
  }

  /** `docker push`: the request's X-Registry-Auth credentials go to the registry session. */
  async *push(name: string, opts: { tag?: string; registryAuth?: string; signal: AbortSignal }): AsyncIterable<JsonStreamMessage> {
    const registry = this.registry;
    if (!registry) throw notImplemented(`push of ${name}: this daemon has no registry client`);
    const auth = decodeRegistryAuth(opts.registryAuth);
    const sessions: PushSessions = {
      session: (ref, s) => registry.session(ref, { auth, actions: ['push', 'pull'], extraScopes: s.extraScopes, signal: s.signal }),
    };
    let pushedTag: string | undefined;
    for await (const message of this.images.push(name, { tag: opts.tag, sessions, signal: opts.signal })) {
      const aux = message.aux as { Tag?: string } | undefined;
      if (aux?.Tag !== undefined) {
        pushedTag = aux.Tag;
        // As dockerd: an image event per tag pushed, named by the reference.
        const ref = pushTarget(name, pushedTag);
        this.events.publish('image', 'push', familiarString(ref), { name: familiarString(ref) });
      }
      yield message;
    }
  }

  async prune(filters: Filters): Promise<ImagePruneResponse> {
    const all = (filters.dangling ?? []).some((v) => v === 'false' || v === '0');
    const result = await this.images.prune({ all, filters }, this.usage());
    for (const item of result.ImagesDeleted) if (item.Deleted) this.events.publish('image', 'delete', item.Deleted, {});
    return { ImagesDeleted: result.ImagesDeleted.length > 0 ? result.ImagesDeleted : null, SpaceReclaimed: result.SpaceReclaimed };
  }

  // ---- ImageCommitter --------------------------------------------------------------

  async commitContainer(options: CommitContainerOptions): Promise<string> {
    const { container } = options;
    const parentImage = await this.images.resolve(container.ImageId as Digest);
    const id = await this.images.commitLayer({
      parentImage,
      makeLayer: options.makeLayer,
      config: commitRunConfig(container, options.config),
      containerConfig: dockerContainerConfig(container.Config),
      // dockerd's history line for a commit: the container's Cmd, joined by spaces.
      createdBy: (Array.isArray(container.Config.Cmd) ? container.Config.Cmd : []).join(' '),
      changes: options.changes,
      comment: options.comment,
      author: options.author,
      container: container.Id,
      repo: options.repo,
      tag: options.tag,
    });
    this.events.publish('container', 'commit', container.Id, { ...this.containers.eventAttributes(container), comment: options.comment ?? '', imageID: id });
    return id;
  }

  ancestry(refs: readonly string[]): Promise<Set<string>> {
    return this.images.withDescendants(refs);
  }

  async imageSize(imageId: string): Promise<number | undefined> {
    return (await this.images.find(imageId))?.size;
  }
}

/** As dockerd for a pull: an X-Registry-Auth that does not decode means no credentials, not an error. */
function pullAuth(header: string | undefined): AuthConfig | undefined {
  try {
    return decodeRegistryAuth(header);
  } catch {
    return undefined;
  }
}

/**
 * dockerd's reading of fromImage and tag: the tag may be a digest; a name with neither
 * pulls every tag of the repository.
 */
function pullReference(fromImage: string, tag: string | undefined): { ref: Reference; allTags: boolean } {
  const named = parseNormalizedNamed(fromImage.replace(/:$/, ''));
  let ref: Reference = named;
  if (tag !== undefined && tag !== '') {
    if (isDigest(tag)) ref = { domain: named.domain, path: named.path, digest: tag };
    else if (!isValidTag(tag)) throw invalidArgument(`invalid tag format`);
    else ref = { domain: named.domain, path: named.path, tag };
  }
  return { ref, allTags: ref.tag === undefined && ref.digest === undefined };
}

/** The container's config as dockerd keeps it in a committed image (`container_config`); nulls dropped. */
function dockerContainerConfig(config: Container['Config']): DockerContainerConfig {
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== null && v !== undefined)) as DockerContainerConfig;
}

/** The new image's runtime config: the container's config, with the commit request's overrides. */
function commitRunConfig(container: Container, overrides: ContainerCreateRequest | undefined): ImageRunConfig {
  const config = { ...container.Config, ...(overrides ?? {}) };
  return {
    User: config.User || undefined,
    Env: config.Env ?? undefined,
    Cmd: config.Cmd ?? undefined,
    Entrypoint: config.Entrypoint ?? undefined,
    WorkingDir: config.WorkingDir || undefined,
    Labels: config.Labels ?? undefined,
    StopSignal: config.StopSignal ?? undefined,
    ExposedPorts: config.ExposedPorts ?? undefined,
    Volumes: config.Volumes ?? undefined,
    // As dockerd's commit: the health check (and the shell its CMD-SHELL runs in) go with the image.
    Healthcheck: config.Healthcheck ?? undefined,
    Shell: config.Shell ?? undefined,
  } as ImageRunConfig;
}
