import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { BuildEvent, BuildRequest, BuildResult, ImageBuilder } from './types';
import { receiveContext } from './context/receive-context';
import { openLocalContext, type LocalContextClaim } from './context/local-context';
import { contextFilter, parseIgnoreFile } from './dockerfile/dockerignore';
import { invalidArgument } from '../errors';
import { closeFd, openHostDir, readTextInRoot } from '../util/fs-at';

/** What POST /build hands over: the request without its context folder, which is made here. */
export type BuildOptions = Omit<BuildRequest, 'contextDir'>;

/**
 * The daemon's side of POST /build around the executor: each build's context goes into a
 * folder of its own under `contextsRoot` (daemon-owned, mode 0700, on the data root's file
 * system so COPY can clone from it), which is removed when the build ends, however it ends.
 */
export class ContextBuildBackend {
  constructor(
    private readonly builder: ImageBuilder,
    private readonly contextsRoot: string,
  ) {}

  /** Creates the contexts folder and removes what a crashed daemon left in it. */
  async init(): Promise<void> {
    await fs.rm(this.contextsRoot, { recursive: true, force: true });
    await fs.mkdir(this.contextsRoot, { recursive: true, mode: 0o700 });
  }

  /** POST /build/prune: the executor's cache entries (all of them: berth's cache has no shared or internal records). */
  async prune(opts: { all: boolean; filters: Record<string, string[]> }): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }> {
    if (!this.builder.cache) return { CachesDeleted: null, SpaceReclaimed: 0 };
    const { deleted, spaceReclaimed } = await this.builder.cache.prune(opts);
    return { CachesDeleted: deleted.length > 0 ? deleted.map((id) => id.slice(0, 25)) : null, SpaceReclaimed: spaceReclaimed };
  }

  async build(context: Readable, opts: BuildOptions, onEvent: (event: BuildEvent) => void): Promise<BuildResult> {
    const dir = await fs.mkdtemp(path.join(this.contextsRoot, 'ctx-'));
    const stopUpload = () => context.destroy(new Error('the client went away'));
    opts.signal.addEventListener('abort', stopUpload, { once: true });
    try {
      const contextTarHeaders = await receiveContext(context, dir);
      opts.signal.removeEventListener('abort', stopUpload);
      opts.signal.throwIfAborted();
      const dockerfileText = opts.dockerfileText ?? (await takeBuildFiles(dir, opts.dockerfile));
      return await this.builder.build({ ...opts, dockerfileText, contextDir: dir, contextTarHeaders }, onEvent);
    } finally {
      opts.signal.removeEventListener('abort', stopUpload);
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * berth build with a daemon on the same host: the user's folder is read in place (nothing
   * uploaded, nothing unpacked), with its .dockerignore applied by the executor; see
   * context/local-context.ts for how the folder is checked and confined.
   */
  async buildLocal(claim: LocalContextClaim, opts: BuildOptions, onEvent: (event: BuildEvent) => void): Promise<BuildResult> {
    const local = openLocalContext(claim, opts.dockerfileText === undefined ? opts.dockerfile : 'Dockerfile');
    try {
      return await this.builder.build({ ...opts, contextDir: local.path, localContext: local.filter }, onEvent);
    } finally {
      local.close();
    }
  }
}

/**
 * Reads the Dockerfile, then, as dockerd's removeDockerfile, drops `.dockerignore` and the
 * Dockerfile from the context when `.dockerignore` excludes them (docker's `-f -` and
 * out-of-context Dockerfiles travel that way under `.dockerfile.<random>`). Read on an fd
 * beneath the context, so a symlinked Dockerfile cannot lead out of it.
 */
async function takeBuildFiles(dir: string, dockerfile: string): Promise<string> {
  const text = readBeneath(dir, dockerfile);
  if (text === undefined) throw invalidArgument(`Cannot locate specified Dockerfile: ${dockerfile}`);
  const ignore = readBeneath(dir, '.dockerignore');
  if (ignore !== undefined) {
    const filter = contextFilter(parseIgnoreFile(ignore));
    for (const name of ['.dockerignore', dockerfile]) {
      if (filter.excludes(name)) await fs.rm(path.join(dir, name), { force: true });
    }
  }
  return text;
}

function readBeneath(dir: string, rel: string): string | undefined {
  const dirFd = openHostDir(dir);
  try {
    return readTextInRoot(dirFd, rel);
  } catch {
    return undefined; // a name that leads out of the context is not there
  } finally {
    closeFd(dirFd);
  }
}
