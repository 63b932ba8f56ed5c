import type { BuildEvent, BuildRequest, ImageBuilder, PullPolicy } from '../../../builder/types';
import { invalidArgument } from '../../../errors';
import { AsyncQueue } from '../../../util/async-queue';
import type { Router } from '../router';
import { sendJsonStream } from '../json-stream';

/** The body of POST /berth/build: a BuildRequest without its signal; the context is a folder on the daemon's host. */
type BerthBuildBody = Partial<Omit<BuildRequest, 'signal'>>;

/**
 * berth's own endpoint, POST /berth/build: runs the executor on a context folder that is
 * already on the daemon's host (root only, as the socket is), streaming the executor's
 * events one JSON object a line (`output` data as UTF-8 text), then `{"type":"built"}` or an
 * in-band `errorDetail`. Docker's POST /build (a tar context) is the public way in; this one
 * serves berth's tests and tools that have the folder at hand.
 */
export function addBerthBuildRoutes(router: Router, builder: ImageBuilder): void {
  router.post('/berth/build', async (ex) => {
    const body = (await ex.readJson<BerthBuildBody>()) ?? {};
    if (typeof body.contextDir !== 'string' || !body.contextDir.startsWith('/')) throw invalidArgument('contextDir must be an absolute path');
    const pull = (body.pull ?? 'missing') as PullPolicy;
    if (!['always', 'missing', 'never'].includes(pull)) throw invalidArgument(`invalid pull policy ${JSON.stringify(pull)}`);
    const request: BuildRequest = {
      contextDir: body.contextDir,
      dockerfile: body.dockerfile ?? 'Dockerfile',
      ...(body.dockerfileText !== undefined ? { dockerfileText: body.dockerfileText } : {}),
      tags: body.tags ?? [],
      buildArgs: body.buildArgs ?? {},
      ...(body.target ? { target: body.target } : {}),
      noCache: body.noCache === true,
      pull,
      labels: body.labels ?? {},
      networkMode: body.networkMode ?? 'default',
      cacheFrom: body.cacheFrom ?? [],
      secrets: body.secrets ?? {},
      removeIntermediate: body.removeIntermediate !== false,
      forceRemoveIntermediate: body.forceRemoveIntermediate === true,
      signal: ex.signal,
    };
    const queue = new AsyncQueue<Record<string, unknown>>();
    const encode = (e: BuildEvent): Record<string, unknown> => (e.type === 'output' ? { ...e, data: e.data.toString('utf8') } : { ...e });
    builder.build(request, (e) => queue.push(encode(e))).then(
      () => queue.end(),
      (err: unknown) => queue.fail(err),
    );
    await sendJsonStream(ex, queue, { flushHeadersAtOnce: true });
  });
}
