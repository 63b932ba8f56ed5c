import type { Readable } from 'node:stream';
import type { ContainerService } from '../../engine/containers/container-service';
import type { ContainerSnapshots } from '../../snapshots/types';
import type { OutputChunk } from '../../util/stdio-streams';
import type { Digest } from '../../util/digest';
import { invalidArgument } from '../../errors';
import type { BuildState } from './build-state';
import type { BuildStateLookup } from './build-state-lookup';
import { dropMountPoints, type RunMount } from './run-mounts';

export interface RunStepDeps {
  containers: ContainerService;
  rootfs: ContainerSnapshots;
  lookup: BuildStateLookup;
  /** Commits a layer with the collector held off and leases it (the build's LeasedWrite.makeProtected). */
  makeProtected<L extends { chainId: Digest }>(make: () => Promise<L>): Promise<L>;
}

export interface RunStepRequest {
  parent: BuildState;
  /** The process: argv, env (the config's and the build args), user, working dir. */
  argv: string[];
  env: string[];
  networkMode: string;
  /** RUN --mount: bound (or tmpfs) for the process only, their mount points dropped before the commit. */
  mounts: RunMount[];
  /** Keep the container when the command fails (rm=false). */
  keepFailed: boolean;
  signal: AbortSignal;
  onContainer(id: string): void;
  onOutput(stream: 'stdout' | 'stderr', data: Buffer): void;
  onRemoved(id: string): void;
}

export class RunFailedError extends Error {
  constructor(readonly argv: string[], readonly exitCode: number) {
    super(`The command '${argv.join(' ')}' returned a non-zero code: ${exitCode}`);
  }
}

/**
 * RUN: a container on the parent state through the container service (so the process gets
 * everything a `docker run` gets: runc, Docker's capabilities, seccomp, masked paths, the
 * network, the managed /etc files), its output streamed, then its changes committed as a
 * layer (less the runtime's mount points) and the container removed with its anonymous volumes.
 */
export async function runStep(deps: RunStepDeps, req: RunStepRequest): Promise<{ chainId: Digest; diffId: Digest; tarSize: number }> {
  const { containers } = deps;
  const rc = req.parent.config.config ?? {};
  const release = deps.lookup.hold(req.parent);
  let id: string | undefined;
  let succeeded = false;
  const binds = req.mounts.filter((m) => m.source !== undefined).map((m) => `${m.source}:${m.target}${m.readonly ? ':ro' : ''}`);
  const tmpfs = req.mounts.filter((m) => m.type === 'tmpfs');
  try {
    const created = await containers.create(undefined, {
      Image: req.parent.id,
      Cmd: req.argv,
      Entrypoint: [''],
      Env: req.env,
      WorkingDir: rc.WorkingDir ?? '',
      User: rc.User ?? '',
      Healthcheck: { Test: ['NONE'] },
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {
        NetworkMode: req.networkMode === '' ? 'default' : req.networkMode,
        ...(binds.length > 0 ? { Binds: binds } : {}),
        ...(tmpfs.length > 0 ? { Tmpfs: Object.fromEntries(tmpfs.map((m) => [m.target, ''])) } : {}),
      },
    } as Parameters<ContainerService['create']>[1]);
    id = created.Id;
    req.onContainer(id);
    const session = await containers.attach(id, { stdout: true, stderr: true, stream: true });
    const drained = drain(session.output, req.onOutput);
    const exited = containers.wait(id, 'next-exit');
    const onAbort = (): void => void containers.kill(id!, 'SIGKILL').catch(() => undefined);
    req.signal.addEventListener('abort', onAbort);
    try {
      await containers.start(id);
      const result = await exited;
      await drained;
      if (req.signal.aborted) throw invalidArgument('the build was cancelled');
      if (result.StatusCode !== 0) throw new RunFailedError(req.argv, result.StatusCode);
    } finally {
      req.signal.removeEventListener('abort', onAbort);
      session.close();
    }
    const containerId = id;
    if (req.mounts.length > 0) {
      const paths = await deps.rootfs.paths(containerId);
      dropMountPoints(paths.upper, paths.lower, req.mounts.map((m) => m.target));
    }
    const layer = await deps.makeProtected(async () => {
      const { layer: l, tarSize } = await deps.rootfs.commitChanges(containerId);
      return { chainId: l.chainId, diffId: l.diffId, tarSize };
    });
    succeeded = true;
    return layer;
  } finally {
    release();
    if (id !== undefined && (succeeded || !req.keepFailed)) {
      await containers.remove(id, { force: true, volumes: true });
      req.onRemoved(id);
    }
  }
}

async function drain(output: Readable, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void): Promise<void> {
  for await (const chunk of output as AsyncIterable<OutputChunk>) onOutput(chunk.stream, chunk.data);
}
