import * as path from 'node:path';
import type { BuildBackend, BuildOptions } from '../../backend';
import type { Socket } from 'node:net';
import { LOCAL_CONTEXT_REFUSED, type BuildEvent, type BuildResult, type PullPolicy } from '../../../builder/types';
import { failedPrecondition, invalidArgument, messageOf, notFound, notImplemented } from '../../../errors';
import { hasPeerCredentials, native } from '../../../native';
import { familiarString, parseNormalizedNamed, withDefaultTag } from '../../../images/reference';
import type { Exchange } from '../exchange';
import type { Query } from '../query';
import type { Router } from '../router';
import { goJson } from '../json-stream';
import { buildMessages, errorMessage, type BuildMessage } from '../build-messages';

/** berth's extension: `RUN --mount=type=secret` files, as JSON {id: path on the daemon's host}. */
export const SECRETS_HEADER = 'x-berth-build-secrets';

/**
 * POST /build as dockerd's classic builder (API version 1 builder) serves it: the body is the
 * context tar, the query the options, the answer a stream of `stream`/`aux`/`errorDetail`
 * messages. A failure before the first message (a bad option, a context that escapes, a
 * Dockerfile syntax error) is a plain HTTP error, as in dockerd; later ones are in-band.
 * The client going away aborts the build.
 */
export function addBuildRoutes(router: Router, backend: BuildBackend): void {
  router.post('/build', async (ex) => {
    const opts = buildOptions(ex);
    await streamBuild(ex, (onEvent) => backend.build(ex.req, opts, onEvent), ex.query.bool('q'));
  });

  // berth's own: `berth build` with a daemon on the same host names its folder instead of
  // sending a tar (the same query, the same stream). Only over the unix socket, and only for a
  // client running as root (SO_PEERCRED): the daemon reads the folder as root, so a client of
  // another uid (the socket's group) could name what it cannot read itself; it sends a tar.
  // A TCP client's paths mean nothing here.
  router.post('/berth/build/local', async (ex) => {
    if (!backend.buildLocal) throw notFound('page not found');
    if (ex.req.socket.remoteAddress !== undefined) throw invalidArgument('POST /berth/build/local is served on the unix socket only: send the context as a tar to POST /build');
    const uid = peerUid(ex.req.socket);
    if (uid !== undefined && uid !== 0) throw failedPrecondition(`${LOCAL_CONTEXT_REFUSED}: the client runs as uid ${uid}, not root (send the context as a tar to POST /build)`);
    const body = (await ex.readJson<{ context?: unknown; dev?: unknown; ino?: unknown; dockerfileText?: unknown }>()) ?? {};
    if (typeof body.context !== 'string' || !path.isAbsolute(body.context)) throw invalidArgument('context must be an absolute path');
    if (typeof body.dev !== 'string' || !/^\d+$/.test(body.dev) || typeof body.ino !== 'string' || !/^\d+$/.test(body.ino)) throw invalidArgument('dev and ino must be the context folder\'s device and inode numbers, as decimal strings');
    if (body.dockerfileText !== undefined && typeof body.dockerfileText !== 'string') throw invalidArgument('dockerfileText must be a string');
    const opts = buildOptions(ex);
    if (typeof body.dockerfileText === 'string') opts.dockerfileText = body.dockerfileText;
    const claim = { path: body.context, dev: body.dev, ino: body.ino };
    await streamBuild(ex, (onEvent) => backend.buildLocal!(claim, opts, onEvent), ex.query.bool('q'));
  });

  router.post('/build/prune', async (ex) => {
    if (!backend.prune) {
      ex.json(200, { CachesDeleted: null, SpaceReclaimed: 0 });
      return;
    }
    ex.json(200, await backend.prune({ all: ex.query.bool('all'), filters: ex.query.filters() }));
  });
}

/** The uid of the process at the other end of a unix socket (undefined: an addon without SO_PEERCRED, or no fd). */
function peerUid(socket: Socket): number | undefined {
  // net.Socket keeps its fd on the libuv handle (Pipe); Node has no public getter for it.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0 || !hasPeerCredentials()) return undefined;
  return native.peerCredentials!(fd).uid;
}

/** The query (and berth's secrets header) as BuildOptions, with dockerd's wording for bad values. */
export function buildOptions(ex: Exchange): BuildOptions {
  const q = ex.query;
  const remote = q.nonEmpty('remote');
  if (remote !== undefined) {
    throw notImplemented(`remote build contexts are not supported by berth (remote=${remote}): send the context as a tar in the request body`);
  }
  if (q.nonEmpty('version') === '2') throw notImplemented('BuildKit (builder version 2) is not supported by berth: it has the classic builder (version 1) only');
  const platform = q.nonEmpty('platform');
  if (platform !== undefined && !/^linux(\/(amd64|x86_64))?$/.test(platform)) {
    throw invalidArgument(`"${platform}": berth builds for linux/amd64 only`);
  }
  return {
    dockerfile: dockerfilePath(q.nonEmpty('dockerfile') ?? 'Dockerfile'),
    tags: q.all('t').filter((t) => t !== '').map(buildTag),
    buildArgs: jsonStringMap(q, 'buildargs', 'build args'),
    target: q.nonEmpty('target'),
    noCache: q.bool('nocache'),
    pull: pullPolicy(q.string('pull')),
    labels: jsonStringMap(q, 'labels', 'labels'),
    networkMode: q.nonEmpty('networkmode') ?? 'default',
    cacheFrom: jsonStringList(q, 'cachefrom', 'cache-from'),
    secrets: secretsHeader(ex.req.headers[SECRETS_HEADER]),
    // dockerd: rm defaults to true when absent or empty.
    removeIntermediate: q.string('rm') === undefined || q.string('rm') === '' ? true : q.bool('rm'),
    forceRemoveIntermediate: q.bool('forcerm'),
    signal: ex.signal,
  };
}

/** A `t` value as moby's sanitizeRepoAndTags takes it: normalized, `:latest` added, no digest. */
function buildTag(raw: string): string {
  const ref = parseNormalizedNamed(raw);
  if (ref.digest !== undefined) throw invalidArgument('build tag cannot contain a digest');
  return familiarString(withDefaultTag(ref));
}

/** The Dockerfile's path inside the context: `/`-rooted names are the context's; climbing out is refused. */
function dockerfilePath(raw: string): string {
  const clean = path.posix.normalize(raw.replace(/\\/g, '/')).replace(/^\/+/, '');
  if (clean === '..' || clean.startsWith('../') || clean === '.' || clean === '') {
    throw invalidArgument(`Cannot locate specified Dockerfile: ${raw}`);
  }
  return clean;
}

function pullPolicy(raw: string | undefined): PullPolicy {
  if (raw === undefined || raw === '') return 'missing';
  // berth's extension: pull=never builds only from local images.
  if (raw === 'never') return 'never';
  if (raw === 'missing') return 'missing';
  const value = raw.trim().toLowerCase();
  return value === '0' || value === 'no' || value === 'false' || value === 'none' ? 'missing' : 'always';
}

function parseJson(q: Query, key: string, what: string): unknown {
  const raw = q.nonEmpty(key);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw invalidArgument(`error reading ${what}: ${messageOf(err)}`, err);
  }
}

/** A JSON object of strings; `null` values (a `--build-arg K` unset in the client's env) are left out, as dockerd does. */
function jsonStringMap(q: Query, key: string, what: string): Record<string, string> {
  const value = parseJson(q, key, what);
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(`error reading ${what}: expected a JSON object of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === null) continue;
    if (typeof v !== 'string') throw invalidArgument(`error reading ${what}: the value of ${JSON.stringify(k)} is not a string`);
    out[k] = v;
  }
  return out;
}

function jsonStringList(q: Query, key: string, what: string): string[] {
  const value = parseJson(q, key, what);
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw invalidArgument(`error reading ${what}: expected a JSON list of strings`);
  return value as string[];
}

function secretsHeader(raw: string | string[] | undefined): Record<string, string> {
  const text = Array.isArray(raw) ? raw[0] : raw;
  if (text === undefined || text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`error reading build secrets (${SECRETS_HEADER}): ${messageOf(err)}`, err);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(`error reading build secrets (${SECRETS_HEADER}): expected a JSON object {"id": "/path"}`);
  const out: Record<string, string> = {};
  for (const [id, file] of Object.entries(value as Record<string, unknown>)) {
    if (typeof file !== 'string' || !path.isAbsolute(file)) throw invalidArgument(`build secret ${JSON.stringify(id)}: its source must be an absolute path on the daemon's host`);
    out[id] = file;
  }
  return out;
}

/**
 * Runs the build and writes its messages as they come. Headers wait for the first message,
 * so an error before it is an HTTP status. Quiet builds (`q`) hold the messages back and send
 * only the image ID, or, on failure, everything held back and the error (as dockerd does).
 */
async function streamBuild(ex: Exchange, build: (onEvent: (event: BuildEvent) => void) => Promise<BuildResult>, quiet: boolean): Promise<void> {
  const queue: BuildMessage[] = [];
  let wake: (() => void) | undefined;
  let outcome: { imageId: string } | { error: unknown } | undefined;
  const push = (messages: BuildMessage[]) => {
    queue.push(...messages);
    wake?.();
  };
  const held: BuildMessage[] = [];
  const onEvent = (event: BuildEvent) => {
    if (ex.signal.aborted) return;
    const messages = buildMessages(event);
    if (quiet) held.push(...messages);
    else push(messages);
  };
  build(onEvent).then(
    (result) => {
      outcome = { imageId: result.imageId };
      wake?.();
    },
    (error: unknown) => {
      outcome = { error };
      wake?.();
    },
  );

  let out: NodeJS.WritableStream | undefined;
  const write = (message: BuildMessage) => {
    out ??= ex.startStream('application/json');
    out.write(goJson(message) + '\n');
  };
  for (;;) {
    while (queue.length > 0) write(queue.shift()!);
    if (outcome) break;
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
  if (ex.signal.aborted) return; // the client is gone: nothing to write to
  if ('error' in outcome) {
    if (!out && !quiet) throw outcome.error;
    if (!out && quiet && held.length === 0) throw outcome.error;
    for (const m of held) write(m);
    write(errorMessage(messageOf(outcome.error), exitCodeOf(outcome.error)));
  } else if (quiet) {
    write({ stream: `${outcome.imageId}\n` });
  }
  (out ?? ex.startStream('application/json')).end();
}

/** A RUN failure's exit code: an `exitCode` on the error or on one of its causes. */
function exitCodeOf(err: unknown): number | undefined {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { exitCode?: unknown }).exitCode;
    if (typeof code === 'number' && code !== 0) return code;
  }
  return undefined;
}
