import { defineCommand, StatusError } from '../../command';
import { ClientError } from '../../../client/errors';
import type { ContainerWaitResponse } from '../../../client/types';
import { followContainer, proxySignals } from '../../streams/attach-io';
import { buildCreateRequest, CREATE_FLAGS } from './create-options';
import { checkPullOption, createContainer } from './create-container';

/** docker/cli's runStartContainerErr: 127 for a missing command, 126 for one that cannot run. */
export function startErrorStatus(message: string): number {
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(message)) return 127;
  if (/permission denied/.test(message)) return 126;
  return 125;
}

function errorMessage(err: unknown): string {
  if (err instanceof ClientError) return `Error response from daemon: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

export default defineCommand({
  usage: 'run [OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create and run a new container from an image',
  interspersed: false,
  minArgs: 1,
  flags: {
    ...CREATE_FLAGS,
    detach: { kind: 'bool', short: 'd', description: 'Run container in background and print container ID' },
    'detach-keys': { kind: 'string', description: 'Override the key sequence for detaching a container' },
    'sig-proxy': { kind: 'bool', default: true, description: 'Proxy received signals to the process' },
  },
  async run(ctx, flags, args) {
    checkPullOption(ctx, flags.pull, 'run');
    const detach = flags.detach;
    let request;
    try {
      request = buildCreateRequest(flags, args, detach);
    } catch (err: unknown) {
      throw new StatusError(125, `${ctx.program}: ${errorMessage(err).replace(/\.?$/, '.')}\nSee '${ctx.program} run --help'.`);
    }
    if (flags.rm && request.HostConfig?.RestartPolicy?.Name && !['no', ''].includes(request.HostConfig.RestartPolicy.Name)) {
      throw new StatusError(125, `${ctx.program}: Conflicting options: --restart and --rm.\nSee '${ctx.program} run --help'.`);
    }
    const client = await ctx.client().catch((err: unknown) => {
      throw new StatusError(125, errorMessage(err));
    });
    let id: string;
    try {
      id = (await createContainer(ctx, client, request, { name: flags.name, platform: flags.platform, pull: flags.pull, quiet: flags.quiet, cidfile: flags.cidfile, useApiSocket: flags['use-api-socket'] })).Id;
    } catch (err: unknown) {
      if (err instanceof StatusError) throw new StatusError(125, err.message);
      throw new StatusError(125, `${ctx.program}: ${errorMessage(err).replace(/\.?$/, '.')}\nSee '${ctx.program} run --help'.`);
    }

    if (detach) {
      try {
        await client.containerStart(id);
      } catch (err: unknown) {
        throw new StatusError(startErrorStatus(errorMessage(err)), `${ctx.program}: ${errorMessage(err).replace(/\.?$/, '.')}`);
      }
      ctx.out(`${id}\n`);
      return 0;
    }

    const tty = request.Tty === true;
    const stopSignals = flags['sig-proxy'] && !tty ? proxySignals((signal) => client.containerKill(id, signal)) : () => undefined;
    const attachAny = request.AttachStdin || request.AttachStdout || request.AttachStderr;
    const hijacked = attachAny
      ? await client.containerAttach(id, {
          stream: true,
          stdin: request.AttachStdin,
          stdout: request.AttachStdout,
          stderr: request.AttachStderr,
          detachKeys: flags['detach-keys'],
        })
      : undefined;
    // Subscribe to the exit before starting, so a fast container cannot be missed.
    const waiting: Promise<ContainerWaitResponse> = client.containerWait(id, flags.rm ? 'removed' : 'next-exit');
    waiting.catch(() => undefined);
    try {
      await client.containerStart(id);
    } catch (err: unknown) {
      hijacked?.socket.destroy();
      stopSignals();
      const message = errorMessage(err);
      if (flags.rm) await waiting.catch(() => undefined);
      throw new StatusError(startErrorStatus(message), `${ctx.program}: ${message.replace(/\.?$/, '.')}`);
    }
    const status = await followContainer({
      socket: hijacked?.socket,
      tty,
      stdin: request.AttachStdin ? ctx.stdin : undefined,
      stdout: ctx.stdout,
      stderr: ctx.stderr,
      detachKeys: flags['detach-keys'],
      waiting,
      resize: (h, w) => client.containerResize(id, h, w),
      stopSignals,
    });
    if (status === 'detached') return 0;
    if (status.Error?.Message) ctx.err(`${ctx.program}: ${status.Error.Message}\n`);
    return status.StatusCode;
  },
});
