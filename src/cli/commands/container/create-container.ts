import type { EngineClient } from '../../../client/engine-client';
import { ClientError } from '../../../client/errors';
import type { ContainerCreateRequest, ContainerCreateResponse } from '../../../client/types';
import type { CliContext } from '../../context';
import { displayJsonMessages, splitReference } from '../common';

/** docker's reference normalization for messages: "busybox" → "busybox:latest". */
function withDefaultTag(image: string): string {
  const { tag } = splitReference(image);
  return tag === undefined && !image.includes('@') ? `${image}:latest` : image;
}

/**
 * Creates a container like docker/cli's createContainer: when the image is missing and
 * --pull allows it, prints "Unable to find image ... locally", pulls, and retries.
 */
export async function createContainer(
  ctx: CliContext,
  client: EngineClient,
  request: ContainerCreateRequest,
  opts: { name?: string; platform?: string; pull: string; quiet: boolean },
): Promise<ContainerCreateResponse> {
  const image = request.Image ?? '';
  const pull = async () => {
    const { repo, tag } = splitReference(image);
    const res = await client.imagePull(repo, tag ?? (image.includes('@') ? undefined : 'latest'));
    await displayJsonMessages(ctx, res, { quiet: opts.quiet });
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
