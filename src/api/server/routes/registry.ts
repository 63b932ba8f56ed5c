import type { RegistryBackend } from '../../backend';
import type { Router } from '../router';

/** POST /auth and GET /distribution/{name}/json, after moby's registry and distribution routers. */
export function addRegistryRoutes(router: Router, backend: RegistryBackend): void {
  router.post('/auth', async (ex) => {
    ex.json(200, await backend.auth(await ex.readJson<unknown>()));
  });
  router.get('/distribution/{name:.*}/json', async (ex) => {
    const header = ex.req.headers['x-registry-auth'];
    ex.json(200, await backend.distributionInspect(ex.param('name'), Array.isArray(header) ? header[0] : header));
  });
}
