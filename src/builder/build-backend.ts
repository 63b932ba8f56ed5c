import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { BuildEvent, BuildRequest, BuildResult, ImageBuilder } from './types';
import { receiveContext } from './context/receive-context';

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

  async build(context: Readable, opts: BuildOptions, onEvent: (event: BuildEvent) => void): Promise<BuildResult> {
    const dir = await fs.mkdtemp(path.join(this.contextsRoot, 'ctx-'));
    const stopUpload = () => context.destroy(new Error('the client went away'));
    opts.signal.addEventListener('abort', stopUpload, { once: true });
    try {
      await receiveContext(context, dir);
      opts.signal.removeEventListener('abort', stopUpload);
      opts.signal.throwIfAborted();
      return await this.builder.build({ ...opts, contextDir: dir }, onEvent);
    } finally {
      opts.signal.removeEventListener('abort', stopUpload);
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
}
