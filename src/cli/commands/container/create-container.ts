import type { EngineClient } from '../../../client/engine-client';
import { ClientError } from '../../../client/errors';
import type { ContainerCreateRequest, ContainerCreateResponse } from '../../../client/types';
import type { CliContext } from '../../context';
import { displayJsonMessages, splitReference } from '../common';
import { familiarName, parseNormalizedNamed } from '../../../images/reference';
import { CidFile } from './cid-file';
import { resolveHost } from '../../../client/host';
import { StatusError } from '../../command';

/** docker's reference normalization for messages: "busybox" → "busybox:latest". */
function withDefaultTag(image: string): string {
  const { tag } = splitReference(image);
  return tag === undefined && !image.includes('@') ? `${image}:latest` : image;
}

/** docker 28's validatePullOpt, checked before anything else: `--pull` is always, missing or never. */
export function checkPullOption(ctx: CliContext, value: string, command: 'run' | 'create'): void {
  if (['always', 'missing', 'never', ''].includes(value)) return;
  throw new StatusError(125, `${ctx.program}: invalid pull option: '${value}': must be one of "always", "missing" or "never"\n\nRun '${ctx.program} ${command} --help' for more information`);
}

/**
 * Creates a container like docker/cli's createContainer: when the image is missing and
 * --pull allows it, prints "Unable to find image ... locally", pulls, and retries.
 */
export async function createContainer(
  ctx: CliContext,
  client: EngineClient,
  request: ContainerCreateRequest,
  opts: { name?: string; platform?: string; pull: string; quiet: boolean; cidfile?: string; useApiSocket?: boolean },
): Promise<ContainerCreateResponse> {
  if (opts.useApiSocket) mountApiSocket(ctx, request);
  const cidfile = opts.cidfile ? await CidFile.create(opts.cidfile) : undefined;
  let response: ContainerCreateResponse;
  try {
    response = await createPulling(ctx, client, request, opts);
  } catch (err: unknown) {
    await cidfile?.remove();
    throw err;
  }
  await cidfile?.write(response.Id);
  return response;
}

/**
 * `--use-api-socket`: the daemon's socket bound at /var/run/docker.sock, so docker clients
 * inside reach it (docker also copies registry credentials in; berth has no logins yet).
 */
function mountApiSocket(ctx: CliContext, request: ContainerCreateRequest): void {
  const host = resolveHost({ flag: ctx.hostFlag });
  if (host.kind !== 'unix') throw new StatusError(125, 'flag --use-api-socket needs the daemon on a unix socket');
  const hostConfig = (request.HostConfig ??= {});
  hostConfig.Mounts = [...(hostConfig.Mounts ?? []), { Type: 'bind', Source: host.socketPath, Target: '/var/run/docker.sock', BindOptions: {} }];
}

async function createPulling(
  ctx: CliContext,
  client: EngineClient,
  request: ContainerCreateRequest,
  opts: { name?: string; platform?: string; pull: string; quiet: boolean },
): Promise<ContainerCreateResponse> {
  const image = request.Image ?? '';
  // As docker: the pull's progress goes to stderr (stdout is the container's), with the stored credentials.
  const pull = async () => {
    const ref = parseNormalizedNamed(image);
    const { registryAuthForImage } = require('../../docker-config') as typeof import('../../docker-config');
    const res = await client.imagePull(familiarName(ref), ref.digest ?? ref.tag ?? 'latest', {
      platform: opts.platform ? opts.platform.toLowerCase() : undefined,
      registryAuth: await registryAuthForImage(image),
    });
    await displayJsonMessages(ctx, res, { quiet: opts.quiet, toStderr: true });
  };
  if (opts.pull === 'always') await pull();
  let response: ContainerCreateResponse;
  try {
    response = await client.containerCreate(request, { name: opts.name, platform: opts.platform });
  } catch (err: unknown) {
    if (!(err instanceof ClientError) || err.statusCode !== 404 || opts.pull === 'never' || !/image/i.test(err.message)) throw err;
    ctx.err(`Unable to find image '${withDefaultTag(image)}' locally\n`);
    await pull();
    response = await client.containerCreate(request, { name: opts.name, platform: opts.platform });
  }
  for (const warning of response.Warnings ?? []) ctx.err(`WARNING: ${warning}\n`);
  return response;
}
