import type { NetworksBackend } from '../../backend';
import { networkConnectBody, networkCreateBody, networkDisconnectBody } from '../../schemas/decoders';
import type { Router } from '../router';

/** Network routes, after moby's api/server/router/network. */
export function addNetworkRoutes(router: Router, backend: NetworksBackend): void {
  router.get('/networks', async (ex) => {
    ex.json(200, await backend.list(ex.query.filters()));
  });
  router.post('/networks/create', async (ex) => {
    ex.json(201, await backend.create((await ex.readBody(networkCreateBody)) ?? {}));
  });
  router.post('/networks/prune', async (ex) => {
    ex.json(200, await backend.prune(ex.query.filters()));
  });
  router.get('/networks/{id}', async (ex) => {
    ex.json(200, await backend.inspect(ex.param('id')));
  });
  router.delete('/networks/{id}', async (ex) => {
    await backend.remove(ex.param('id'));
    ex.empty(204);
  });
  router.post('/networks/{id}/connect', async (ex) => {
    await backend.connect(ex.param('id'), (await ex.readBody(networkConnectBody)) ?? {});
    ex.empty(200);
  });
  router.post('/networks/{id}/disconnect', async (ex) => {
    await backend.disconnect(ex.param('id'), (await ex.readBody(networkDisconnectBody)) ?? {});
    ex.empty(200);
  });
}
