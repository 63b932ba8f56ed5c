import type { SystemBackend } from '../../backend';
import type { SystemDfType } from '../../types/system';
import { invalidArgument } from '../../../errors';
import type { Exchange } from '../exchange';
import type { Router } from '../router';
import { MAX_API_VERSION, MIN_API_VERSION } from '../api-version';
import { sendJsonStream } from '../json-stream';

const DF_TYPES: SystemDfType[] = ['container', 'image', 'volume', 'build-cache'];

/** System routes, after moby's api/server/router/system. */
export function addSystemRoutes(router: Router, backend: SystemBackend): void {
  const ping = async (ex: Exchange) => {
    ex.res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
    ex.res.setHeader('Pragma', 'no-cache');
    ex.res.setHeader('Builder-Version', '1');
    ex.res.setHeader('Swarm', 'inactive');
    await backend.ping();
    if (ex.req.method === 'HEAD') {
      ex.res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 0 });
      ex.res.end();
      return;
    }
    ex.text(200, 'OK');
  };
  router.get('/_ping', ping);
  router.head('/_ping', ping);

  router.get('/version', async (ex) => {
    const version = await backend.version();
    // The CLI prints the Engine component's details; the API versions are ours to state.
    const Components = version.Components.map((c) =>
      c.Name === 'Engine' ? { ...c, Details: { ...c.Details, ApiVersion: MAX_API_VERSION, MinAPIVersion: MIN_API_VERSION } } : c,
    );
    ex.json(200, { ...version, Components, ApiVersion: MAX_API_VERSION, MinAPIVersion: MIN_API_VERSION });
  });

  router.get('/info', async (ex) => {
    ex.json(200, await backend.info());
  });

  router.get('/events', async (ex) => {
    const q = ex.query;
    const since = q.unixTime('since');
    const until = q.unixTime('until');
    if (since !== undefined && until !== undefined && until < since) {
      throw invalidArgument('`since` time cannot be after `until` time');
    }
    const events = backend.events({ since, until, filters: q.filters(), signal: ex.signal });
    // Headers at once: `docker events` shows nothing until they arrive.
    await sendJsonStream(ex, events, { flushHeadersAtOnce: true });
  });

  router.get('/system/df', async (ex) => {
    const requested = ex.query.all('type');
    for (const t of requested) {
      if (!DF_TYPES.includes(t as SystemDfType)) throw invalidArgument(`unknown object type: ${t}`);
    }
    ex.json(200, await backend.df({ types: requested.length > 0 ? (requested as SystemDfType[]) : DF_TYPES }));
  });
}
