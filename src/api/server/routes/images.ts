import type { ImagesBackend } from '../../backend';
import { invalidArgument, notImplemented } from '../../../errors';
import type { Router } from '../router';
import { sendJsonStream } from '../json-stream';
import { versionAtLeast } from '../api-version';
import { pipeBody } from './containers';
import type { ImageInspect, ImageSummary } from '../../types/images';

/** Image routes, after moby's api/server/router/image. Image names may contain slashes. */
export function addImageRoutes(router: Router, backend: ImagesBackend): void {
  router.get('/images/json', async (ex) => {
    const q = ex.query;
    const filters = q.filters();
    // Before API 1.41 a `filter` parameter matched references; keep it working.
    const legacy = q.nonEmpty('filter');
    if (legacy !== undefined) filters.reference = [...(filters.reference ?? []), legacy];
    const images = await backend.list({ all: q.bool('all'), filters, digests: q.bool('digests'), sharedSize: q.bool('shared-size') });
    const hideVirtualSize = versionAtLeast(ex.apiVersion, '1.44'); // once, not per image
    ex.json(200, hideVirtualSize ? images.map(withoutVirtualSizeView) : images);
  });

  router.get('/images/search', async () => {
    throw notImplemented('Search is not implemented: Berth has no registry index');
  });

  router.get('/images/get', async (ex) => {
    const names = ex.query.all('names').filter((n) => n !== '');
    const tar = await backend.save(names);
    await pipeBody(ex, tar, 'application/x-tar');
  });

  router.post('/images/load', async (ex) => {
    await sendJsonStream(ex, backend.load(ex.req, { quiet: ex.query.bool('quiet') }));
  });

  router.post('/images/create', async (ex) => {
    const q = ex.query;
    const fromSrc = q.nonEmpty('fromSrc');
    const fromImage = q.nonEmpty('fromImage');
    if (fromSrc !== undefined) {
      await sendJsonStream(
        ex,
        backend.import({
          fromSrc,
          repo: q.nonEmpty('repo'),
          tag: q.nonEmpty('tag'),
          message: q.nonEmpty('message'),
          changes: q.all('changes'),
          platform: q.nonEmpty('platform'),
          body: ex.req,
        }),
      );
      return;
    }
    if (fromImage === undefined) throw invalidArgument('either fromSrc or fromImage is required');
    const registryAuth = headerValue(ex.req.headers['x-registry-auth']);
    await sendJsonStream(ex, backend.pull({ fromImage, tag: q.nonEmpty('tag'), platform: q.nonEmpty('platform'), registryAuth, signal: ex.signal }));
  });

  router.post('/images/prune', async (ex) => {
    ex.json(200, await backend.prune(ex.query.filters()));
  });

  router.get('/images/{name:.*}/json', async (ex) => {
    ex.json(200, forVersion(await backend.inspect(ex.param('name')), ex.apiVersion));
  });

  router.get('/images/{name:.*}/history', async (ex) => {
    ex.json(200, await backend.history(ex.param('name')));
  });

  router.get('/images/{name:.*}/get', async (ex) => {
    const tar = await backend.save([ex.param('name')]);
    await pipeBody(ex, tar, 'application/x-tar');
  });

  router.post('/images/{name:.*}/tag', async (ex) => {
    const repo = ex.query.nonEmpty('repo');
    if (repo === undefined) throw invalidArgument('repository name (repo) is required');
    await backend.tag(ex.param('name'), repo, ex.query.nonEmpty('tag'));
    ex.empty(201);
  });

  router.post('/images/{name:.*}/push', async (ex) => {
    const registryAuth = headerValue(ex.req.headers['x-registry-auth']);
    await sendJsonStream(ex, backend.push(ex.param('name'), { tag: ex.query.nonEmpty('tag'), registryAuth, signal: ex.signal }));
  });

  router.delete('/images/{name:.*}', async (ex) => {
    ex.json(200, await backend.remove(ex.param('name'), { force: ex.query.bool('force'), noPrune: ex.query.bool('noprune') }));
  });
}

/**
 * VirtualSize goes from API 1.44 on, as in moby. Container and ContainerConfig stay at every
 * version, unlike moby 26 (gone from 1.45): docker-compose v1 negotiates the newest version
 * and fails with KeyError: 'ContainerConfig' without them.
 */
/** Views without VirtualSize of frozen (shared, unchanging) summaries, so they stay frozen and their encoding is kept too. */
const withoutVirtualSize = new WeakMap<object, object>();

function forVersion<T extends ImageSummary | ImageInspect>(image: T, apiVersion: string): T {
  return versionAtLeast(apiVersion, '1.44') ? withoutVirtualSizeView(image) : image;
}

function withoutVirtualSizeView<T extends ImageSummary | ImageInspect>(image: T): T {
  const kept = withoutVirtualSize.get(image);
  if (kept) return kept as T;
  const shown: Record<string, unknown> = { ...image };
  delete shown.VirtualSize;
  if (Object.isFrozen(image)) withoutVirtualSize.set(image, Object.freeze(shown));
  return shown as T;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
