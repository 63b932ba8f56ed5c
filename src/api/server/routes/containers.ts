import { pipeline } from 'node:stream/promises';
import type { ContainersBackend } from '../../backend';
import type { WaitCondition } from '../../types/containers';
import { commitConfigBody, containerCreateBody, containerUpdateBody } from '../../schemas/decoders';
import { invalidArgument, messageOf } from '../../../errors';
import type { Logger } from '../../../util/logger';
import type { Exchange } from '../exchange';
import type { Router } from '../router';
import { versionAtLeast } from '../api-version';
import { streamSession } from '../pump-attach';
import { sendJsonStream } from '../json-stream';
import { frame, frameHeader, streamContentType } from '../stdio-framing';

const WAIT_CONDITIONS: WaitCondition[] = ['not-running', 'next-exit', 'removed'];

/** Container routes, after moby's api/server/router/container. */
export function addContainerRoutes(router: Router, backend: ContainersBackend, logger: Logger): void {
  router.get('/containers/json', async (ex) => {
    const q = ex.query;
    const limit = q.int('limit');
    ex.json(200, await backend.list({ all: q.bool('all'), limit: limit !== undefined && limit > 0 ? limit : undefined, size: q.bool('size'), filters: q.filters() }));
  });

  router.post('/containers/create', async (ex) => {
    const body = await ex.readBody(containerCreateBody);
    if (body === undefined) throw invalidArgument('config cannot be empty in order to create a container');
    const created = await backend.create(ex.query.nonEmpty('name'), body, { platform: ex.query.nonEmpty('platform') });
    ex.json(201, { Id: created.Id, Warnings: created.Warnings ?? [] });
  });

  router.post('/containers/prune', async (ex) => {
    ex.json(200, await backend.prune(ex.query.filters()));
  });

  router.get('/containers/{name}/json', async (ex) => {
    ex.json(200, await backend.inspect(ex.param('name'), { size: ex.query.bool('size') }));
  });

  router.get('/containers/{name}/top', async (ex) => {
    ex.json(200, await backend.top(ex.param('name'), ex.query.string('ps_args') ?? '', ex.signal));
  });

  router.get('/containers/{name}/stats', async (ex) => {
    const stream = ex.query.bool('stream', true);
    const oneShot = ex.query.bool('one-shot');
    if (stream && oneShot) throw invalidArgument('cannot have stream=true and one-shot=true');
    const samples = backend.stats(ex.param('name'), { stream, oneShot, signal: ex.signal });
    await sendJsonStream(ex, samples, { flushHeadersAtOnce: stream });
  });

  router.get('/containers/{name}/changes', async (ex) => {
    ex.json(200, await backend.changes(ex.param('name')));
  });

  router.get('/containers/{name}/export', async (ex) => {
    const tar = await backend.export(ex.param('name'));
    await pipeBody(ex, tar, 'application/x-tar');
  });

  router.get('/containers/{name}/logs', async (ex) => {
    const q = ex.query;
    const stdout = q.bool('stdout');
    const stderr = q.bool('stderr');
    if (!stdout && !stderr) throw invalidArgument('Bad parameters: you must choose at least one stream');
    const tailRaw = q.string('tail') ?? 'all';
    const tailNumber = parseInt(tailRaw, 10);
    const timestamps = q.bool('timestamps');
    const session = await backend.logs(ex.param('name'), {
      follow: q.bool('follow'),
      stdout,
      stderr,
      since: q.unixTime('since'),
      until: q.unixTime('until'),
      tail: tailRaw === 'all' || Number.isNaN(tailNumber) || tailNumber < 0 ? 'all' : tailNumber,
      timestamps,
      details: q.bool('details'),
      signal: ex.signal,
    });
    const out = ex.startStream(streamContentType(session.tty, versionAtLeast(ex.apiVersion, '1.42')));
    const iterator = session.batches[Symbol.asyncIterator]();
    const onAbort = () => void iterator.return?.();
    ex.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done || ex.signal.aborted) break;
        // One write per batch: frame headers, timestamps and lines gathered into one buffer.
        const parts: Buffer[] = [];
        for (const { stream, time, line, continued } of next.value) {
          const stamp = timestamps && !continued ? Buffer.from(`${time} `) : undefined;
          const size = line.length + (stamp?.length ?? 0);
          if (size === 0) continue;
          if (!session.tty) parts.push(frameHeader(stream, size));
          if (stamp) parts.push(stamp);
          parts.push(line);
        }
        if (parts.length > 0 && !out.write(Buffer.concat(parts))) {
          await new Promise<void>((resolve) => {
            const done = () => {
              out.off('drain', done).off('close', done);
              resolve();
            };
            out.on('drain', done).on('close', done);
          });
        }
      }
    } catch (err: unknown) {
      // Past the point of no return: moby writes the error in band too.
      logger.warn('log stream failed', { error: messageOf(err) });
      if (!session.tty) out.write(frame('stderr', Buffer.from(`Error grabbing logs: ${messageOf(err)}\n`)));
    } finally {
      ex.signal.removeEventListener('abort', onAbort);
      out.end();
    }
  });

  router.post('/containers/{name}/start', async (ex) => {
    // Since API 1.24 a start body (HostConfig) is rejected by moby; clients send none or {}.
    await ex.readJson<unknown>();
    await backend.start(ex.param('name'));
    ex.empty(204);
  });

  router.post('/containers/{name}/stop', async (ex) => {
    await backend.stop(ex.param('name'), { signal: ex.query.nonEmpty('signal'), timeout: ex.query.int('t') });
    ex.empty(204);
  });

  router.post('/containers/{name}/restart', async (ex) => {
    await backend.restart(ex.param('name'), { signal: ex.query.nonEmpty('signal'), timeout: ex.query.int('t') });
    ex.empty(204);
  });

  router.post('/containers/{name}/kill', async (ex) => {
    await backend.kill(ex.param('name'), ex.query.nonEmpty('signal'));
    ex.empty(204);
  });

  router.post('/containers/{name}/pause', async (ex) => {
    await backend.pause(ex.param('name'));
    ex.empty(204);
  });

  router.post('/containers/{name}/unpause', async (ex) => {
    await backend.unpause(ex.param('name'));
    ex.empty(204);
  });

  router.post('/containers/{name}/rename', async (ex) => {
    const newName = ex.query.nonEmpty('name');
    if (newName === undefined) throw invalidArgument('Error when allocating new name: Invalid container name ()');
    await backend.rename(ex.param('name'), newName);
    ex.empty(204);
  });

  router.post('/containers/{name}/update', async (ex) => {
    const body = (await ex.readBody(containerUpdateBody)) ?? {};
    const result = await backend.update(ex.param('name'), body);
    ex.json(200, { Warnings: result.Warnings ?? [] });
  });

  router.post('/containers/{name}/resize', async (ex) => {
    const { height, width } = readSize(ex);
    await backend.resize(ex.param('name'), height, width);
    ex.empty(200);
  });

  router.post('/containers/{name}/wait', async (ex) => {
    const raw = ex.query.nonEmpty('condition') ?? 'not-running';
    if (!WAIT_CONDITIONS.includes(raw as WaitCondition)) throw invalidArgument(`invalid condition: "${raw}"`);
    const handle = await backend.wait(ex.param('name'), raw as WaitCondition, ex.signal);
    // Headers now: the CLI waits for them before it starts the container.
    const out = ex.startStream('application/json');
    const clientGone = new Promise<undefined>((resolve) => {
      if (ex.signal.aborted) resolve(undefined);
      ex.signal.addEventListener('abort', () => resolve(undefined), { once: true });
    });
    let body: unknown;
    try {
      body = await Promise.race([handle.result, clientGone]);
    } catch (err: unknown) {
      body = { StatusCode: -1, Error: { Message: messageOf(err) } };
    }
    if (body === undefined) out.end();
    else out.end(JSON.stringify(body) + '\n');
  });

  router.delete('/containers/{name}', async (ex) => {
    const q = ex.query;
    await backend.remove(ex.param('name'), { force: q.bool('force'), volumes: q.bool('v'), link: q.bool('link') });
    ex.empty(204);
  });

  router.post('/containers/{name}/attach', async (ex) => {
    const q = ex.query;
    const options = {
      stream: q.bool('stream'),
      logs: q.bool('logs'),
      stdin: q.bool('stdin'),
      stdout: q.bool('stdout'),
      stderr: q.bool('stderr'),
      detachKeys: q.nonEmpty('detachKeys'),
    };
    const multiplexedOk = versionAtLeast(ex.apiVersion, '1.42');
    const contentTypeFor = (tty: boolean) => (ex.wantsUpgrade ? streamContentType(tty, multiplexedOk) : streamContentType(true, false));
    await streamSession(ex, (accept) => backend.attach(ex.param('name'), options, accept), contentTypeFor, logger, { errorInStream: false });
  });

  router.head('/containers/{name}/archive', async (ex) => {
    const stat = await backend.archiveStat(ex.param('name'), requirePath(ex));
    ex.res.setHeader('X-Docker-Container-Path-Stat', encodeStat(stat));
    ex.empty(200);
  });

  router.get('/containers/{name}/archive', async (ex) => {
    const { stat, tar } = await backend.archiveGet(ex.param('name'), requirePath(ex));
    ex.res.setHeader('X-Docker-Container-Path-Stat', encodeStat(stat));
    await pipeBody(ex, tar, 'application/x-tar');
  });

  router.put('/containers/{name}/archive', async (ex) => {
    const q = ex.query;
    await backend.archivePut(ex.param('name'), ex.req, {
      path: requirePath(ex),
      noOverwriteDirNonDir: q.bool('noOverwriteDirNonDir'),
      copyUIDGID: q.bool('copyUIDGID'),
    });
    ex.empty(200);
  });

  router.post('/commit', async (ex) => {
    const q = ex.query;
    const config = await ex.readBody(commitConfigBody);
    const container = q.nonEmpty('container');
    if (container === undefined) throw invalidArgument('container is required');
    const result = await backend.commit({
      container,
      repo: q.nonEmpty('repo'),
      tag: q.nonEmpty('tag'),
      comment: q.nonEmpty('comment'),
      author: q.nonEmpty('author'),
      pause: q.bool('pause', true),
      changes: q.all('changes'),
      config,
    });
    ex.json(201, { Id: result.Id });
  });
}

/** h and w query parameters, as moby's resize handlers read them. */
export function readSize(ex: Exchange): { height: number; width: number } {
  const height = ex.query.int('h') ?? 0;
  const width = ex.query.int('w') ?? 0;
  if (height < 0 || width < 0) throw invalidArgument('invalid resize size');
  return { height, width };
}

function requirePath(ex: Exchange): string {
  const path = ex.query.nonEmpty('path');
  if (path === undefined) throw invalidArgument('Path cannot be empty');
  return path;
}

function encodeStat(stat: object): string {
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

/** Streams a byte Readable as the 200 body; a failure mid-way can only cut the connection. */
export async function pipeBody(ex: Exchange, body: NodeJS.ReadableStream, contentType: string): Promise<void> {
  const out = ex.startStream(contentType);
  try {
    await pipeline(body, out);
  } catch (err: unknown) {
    if (!ex.signal.aborted) throw err;
  }
}
