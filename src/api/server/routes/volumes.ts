import type { VolumesBackend } from '../../backend';
import { volumeCreateBody } from '../../schemas/decoders';
import type { Router } from '../router';
import { versionAtLeast } from '../api-version';

/** Volume routes, after moby's api/server/router/volume. */
export function addVolumeRoutes(router: Router, backend: VolumesBackend): void {
  router.get('/volumes', async (ex) => {
    ex.json(200, await backend.list(ex.query.filters()));
  });
  router.post('/volumes/create', async (ex) => {
    ex.json(201, await backend.create((await ex.readBody(volumeCreateBody)) ?? {}));
  });
  router.post('/volumes/prune', async (ex) => {
    const filters = ex.query.filters();
    // API 1.42 made prune keep named volumes; older clients still prune them (moby does the same).
    if (!versionAtLeast(ex.apiVersion, '1.42')) filters.all = [...(filters.all ?? []), 'true'];
    ex.json(200, await backend.prune(filters));
  });
  router.get('/volumes/{name}', async (ex) => {
    ex.json(200, await backend.inspect(ex.param('name')));
  });
  router.delete('/volumes/{name}', async (ex) => {
    await backend.remove(ex.param('name'), { force: ex.query.bool('force') });
    ex.empty(204);
  });
}
