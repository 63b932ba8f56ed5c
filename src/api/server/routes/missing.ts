import { invalidArgument, notImplemented, unavailable } from '../../../errors';
import type { Exchange } from '../exchange';
import { Router } from '../router';

/**
 * Answers for the documented Engine API routes berth does not serve, consulted only when no
 * real route matched (so a feature that lands simply takes its routes over):
 *
 * - swarm (/swarm, /nodes, /services, /tasks, /secrets, /configs): exactly what a dockerd that
 *   is not a swarm manager answers (503 and its message; the parameter checks dockerd makes
 *   first), since berth spreads over hosts through Kubernetes, never swarm;
 * - everything else berth lacks (BuildKit's session and grpc, plugins,
 *   websocket attach): 501 naming the feature, as pull does. Each says "not supported": the docker
 *   CLI's `inspect` skips an object type whose lookup says so and tries the next.
 *
 * A path that is no Engine API route at all keeps dockerd's 404 `page not found`.
 */
export const NOT_SWARM_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

const NO_BUILDER = 'building images with BuildKit is not supported by berth: it has the classic builder (POST /build) only';
const NO_PLUGINS = 'plugins are not supported by berth yet: it has no plugin system (volumes use the built-in local driver)';
const NO_SWARM_MODE = 'swarm mode is not supported by berth: it spreads over hosts through Kubernetes, not swarm';

function notImplementedRoute(message: string) {
  return async (): Promise<void> => {
    throw notImplemented(message);
  };
}

const notManager = async (): Promise<void> => {
  throw unavailable(NOT_SWARM_MANAGER);
};

/** dockerd's check of an update's `version` query, before it finds it is no manager. */
function versionedUpdate(kind: 'swarm' | 'service' | 'node' | 'secret' | 'config') {
  return async (ex: Exchange): Promise<void> => {
    const raw = ex.query.string('version') ?? '';
    const problem = parseUintProblem(raw);
    if (problem) {
      // secrets and configs say it without the strconv detail.
      if (kind === 'secret' || kind === 'config') throw invalidArgument(`invalid ${kind} version`);
      throw invalidArgument(`invalid ${kind} version '${raw}': strconv.ParseUint: parsing ${JSON.stringify(raw)}: ${problem}`);
    }
    throw unavailable(NOT_SWARM_MANAGER);
  };
}

/** Go's strconv.ParseUint(s, 10, 64) failure, or undefined when it parses. */
function parseUintProblem(raw: string): string | undefined {
  if (!/^[0-9]+$/.test(raw)) return 'invalid syntax';
  return BigInt(raw) > 0xffffffffffffffffn ? 'value out of range' : undefined;
}

/** Service and task logs check their streams first (dockerd answers that with a 500). */
const swarmLogs = async (ex: Exchange): Promise<void> => {
  if (!ex.query.bool('stdout') && !ex.query.bool('stderr')) {
    ex.json(500, { message: 'Bad parameters: you must choose at least one stream' });
    return;
  }
  throw unavailable(NOT_SWARM_MANAGER);
};

function addSwarmRoutes(router: Router): void {
  router
    .get('/swarm', notManager)
    .get('/swarm/unlockkey', notManager)
    .post('/swarm/unlock', notManager)
    .post('/swarm/update', versionedUpdate('swarm'))
    .post('/swarm/leave', async () => {
      throw unavailable('This node is not part of a swarm');
    })
    // A dockerd would become a manager here; berth has no swarm mode to enter.
    .post('/swarm/init', notImplementedRoute(NO_SWARM_MODE))
    .post('/swarm/join', notImplementedRoute(NO_SWARM_MODE));
  for (const [kind, plural] of [
    ['service', 'services'],
    ['node', 'nodes'],
    ['secret', 'secrets'],
    ['config', 'configs'],
  ] as const) {
    router.get(`/${plural}`, notManager).get(`/${plural}/{id}`, notManager).delete(`/${plural}/{id}`, notManager);
    router.post(`/${plural}/{id}/update`, versionedUpdate(kind));
    if (kind !== 'node') router.post(`/${plural}/create`, notManager);
  }
  router.get('/services/{id}/logs', swarmLogs);
  router.get('/tasks', notManager).get('/tasks/{id}', notManager).get('/tasks/{id}/logs', swarmLogs);
  // Cluster volumes (API 1.42) are a swarm feature; moby's own wording.
  router.put('/volumes/{name}', async () => {
    throw unavailable('volume update only valid for cluster volumes, but swarm is unavailable');
  });
}

function addNotImplementedRoutes(router: Router): void {
  router.post('/session', notImplementedRoute(NO_BUILDER));
  router.post('/grpc', notImplementedRoute(NO_BUILDER));

  const plugins = notImplementedRoute(NO_PLUGINS);
  router.get('/plugins', plugins).get('/plugins/privileges', plugins).post('/plugins/pull', plugins).post('/plugins/create', plugins);
  router.get('/plugins/{name:.*}/json', plugins).delete('/plugins/{name:.*}', plugins);
  for (const action of ['enable', 'disable', 'upgrade', 'push', 'set']) router.post(`/plugins/{name:.*}/${action}`, plugins);

  router.get('/containers/{id}/attach/ws', notImplementedRoute('attach over a websocket is not supported by berth yet; use POST /containers/{id}/attach'));
}

/** The router of the routes above; the server consults it when its own router has no match. */
export function missingRoutesRouter(): Router {
  const router = new Router();
  addSwarmRoutes(router);
  addNotImplementedRoutes(router);
  return router;
}
