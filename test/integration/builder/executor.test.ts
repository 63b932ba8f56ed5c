import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../../helpers/test-daemon';
import { build, history, imageTree, inspectImage, makeContext } from './helpers';

async function daemonWithBusybox(t: import('node:test').TestContext): Promise<TestDaemon> {
  const daemon = await startTestDaemon();
  t.after(() => daemon.stop());
  await bootstrapBusybox(daemon);
  return daemon;
}

test('FROM + metadata + RUN + COPY: the config docker build gives, the files, the history', { skip: needsRoot() }, async (t) => {
  const daemon = await daemonWithBusybox(t);
  const ctx = await makeContext({
    'Dockerfile': [
      'FROM busybox',
      'ENV A=1 B="two words"',
      'LABEL org.example=yes',
      'WORKDIR /app',
      'COPY hello.txt ./',
      'COPY --chown=1000:1001 --chmod=640 conf/ /etc/conf/',
      'RUN echo "ran as $(id -u) in $(pwd) with $B" && echo made > /app/made.txt',
      'EXPOSE 8080 53/udp',
      'USER 1000',
      'VOLUME /data',
      'STOPSIGNAL SIGINT',
      'HEALTHCHECK --interval=5s --retries=3 CMD true',
      'ENTRYPOINT ["/bin/sh", "-c"]',
      'CMD ["echo hi"]',
      '',
    ].join('\n'),
    'hello.txt': { content: 'hello\n', mode: 0o755 },
    'conf/a.conf': 'a=1\n',
    'conf/sub/b.conf': 'b=2\n',
  });
  t.after(() => fs.rm(ctx, { recursive: true, force: true }));
  const r = await build(daemon, ctx, { tags: ['app:1'] });
  assert.equal(r.error, undefined, r.error);
  assert.match(r.output, /ran as 0 in \/app with two words/);
  const img = await inspectImage(daemon, 'app:1');
  assert.equal(img.Id, r.imageId);
  const c = img.Config;
  assert.deepEqual(c.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=1', 'B=two words']);
  assert.deepEqual(c.Labels, { 'org.example': 'yes' });
  assert.equal(c.WorkingDir, '/app');
  assert.deepEqual(c.ExposedPorts, { '8080/tcp': {}, '53/udp': {} });
  assert.equal(c.User, '1000');
  assert.deepEqual(c.Volumes, { '/data': {} });
  assert.equal(c.StopSignal, 'SIGINT');
  assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 5_000_000_000, Retries: 3 });
  assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c']);
  assert.deepEqual(c.Cmd, ['echo hi']);

  const tree = await imageTree(daemon, 'app:1', '/app');
  assert.deepEqual(pick(tree.get('app/hello.txt')), { mode: 0o755, uid: 0, gid: 0, content: 'hello\n' });
  assert.deepEqual(pick(tree.get('app/made.txt')), { mode: 0o644, uid: 0, gid: 0, content: 'made\n' });
  const conf = await imageTree(daemon, 'app:1', '/etc/conf');
  assert.deepEqual(pick(conf.get('conf/a.conf')), { mode: 0o640, uid: 1000, gid: 1001, content: 'a=1\n' });
  assert.deepEqual(pick(conf.get('conf/sub/b.conf')), { mode: 0o640, uid: 1000, gid: 1001, content: 'b=2\n' });

  const h = await history(daemon, 'app:1');
  const createdBy = h.map((e) => e.CreatedBy as string).reverse().slice(-13);
  assert.deepEqual(createdBy.slice(0, 3), ['/bin/sh -c #(nop)  ENV A=1 B=two words', '/bin/sh -c #(nop)  LABEL org.example=yes', '/bin/sh -c #(nop) WORKDIR /app']);
  assert.match(createdBy[5], /^\/bin\/sh -c echo "ran as/);
  assert.equal(createdBy[12], '/bin/sh -c #(nop)  CMD ["echo hi"]');
  // No build container is left behind.
  const ps = JSON.parse((await apiRequest(daemon.socket, 'GET', '/containers/json?all=1')).body) as unknown[];
  assert.equal(ps.length, 0);
});

function pick(e: { mode: number; uid: number; gid: number; content?: string } | undefined): unknown {
  if (!e) return undefined;
  return { mode: e.mode, uid: e.uid, gid: e.gid, ...(e.content !== undefined ? { content: e.content } : {}) };
}

test('COPY --chown by name: looked up in the image\'s /etc/passwd and /etc/group; an unknown group is named', { skip: needsRoot() }, async (t) => {
  const daemon = await daemonWithBusybox(t);
  const ctx = await makeContext({ 'Dockerfile': 'FROM busybox\nCOPY --chown=nobody:nobody a.txt /home/owned.txt\n', 'Bad.Dockerfile': 'FROM busybox\nCOPY --chown=nobody:staff a.txt /x\n', 'a.txt': 'a' });
  t.after(() => fs.rm(ctx, { recursive: true, force: true }));
  const r = await build(daemon, ctx, { tags: ['owned:1'] });
  assert.equal(r.error, undefined, r.error);
  assert.deepEqual(pick((await imageTree(daemon, 'owned:1', '/home')).get('home/owned.txt')), { mode: 0o644, uid: 65534, gid: 65534, content: 'a' });
  const bad = await build(daemon, ctx, { tags: ['bad:1'], dockerfile: 'Bad.Dockerfile' });
  assert.match(bad.error ?? '', /can't find gid for group staff/);
});

test('a failing RUN: docker\'s message with the line, its output, and nothing left behind', { skip: needsRoot() }, async (t) => {
  const daemon = await daemonWithBusybox(t);
  const before = await storeState(daemon);
  const ctx = await makeContext({ 'Dockerfile': 'FROM busybox\nCOPY a.txt /a.txt\nRUN echo about to fail && false\n', 'a.txt': 'a' });
  t.after(() => fs.rm(ctx, { recursive: true, force: true }));
  const r = await build(daemon, ctx, { tags: ['broken:1'] });
  assert.equal(r.error, "Dockerfile:3: The command '/bin/sh -c echo about to fail && false' returned a non-zero code: 1");
  assert.match(r.output, /about to fail/);
  assert.equal((await apiRequest(daemon.socket, 'GET', '/images/broken:1/json')).status, 404);
  // The COPY step that succeeded is kept as build cache (listed by system df) and nothing else.
  const df = JSON.parse((await apiRequest(daemon.socket, 'GET', '/system/df')).body) as { BuildCache: Array<{ Description: string }> };
  assert.deepEqual(df.BuildCache.map((e) => e.Description.replace(/[0-9a-f]{64}/, 'H')), ['/bin/sh -c #(nop) COPY file:H in /a.txt ']);
  assert.equal((await apiRequest(daemon.socket, 'POST', '/build/prune')).status, 200);
  assert.deepEqual(await storeState(daemon), before, 'no image, container or snapshot left once the cache is pruned');
});

test('multi-stage: FROM scratch, COPY --from a stage, --target stops early', { skip: needsRoot() }, async (t) => {
  const daemon = await daemonWithBusybox(t);
  const ctx = await makeContext({
    'Dockerfile': [
      'FROM busybox AS builder',
      'RUN mkdir /out && echo built > /out/artifact && ln -s artifact /out/link',
      'FROM busybox AS unused',
      'RUN echo this stage must not run',
      'FROM scratch',
      'COPY --from=builder /out/ /',
      'CMD ["/artifact"]',
    ].join('\n'),
  });
  t.after(() => fs.rm(ctx, { recursive: true, force: true }));
  const r = await build(daemon, ctx, { tags: ['multi:1'] });
  assert.equal(r.error, undefined, r.error);
  assert.doesNotMatch(r.output, /must not run/);
  const img = await inspectImage(daemon, 'multi:1');
  assert.equal(img.RootFS.Layers.length, 1);
  assert.deepEqual(img.Config.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
  const tree = await imageTree(daemon, 'multi:1', '/');
  assert.equal(tree.get('/artifact')?.content ?? [...tree.values()].find((e) => e.path.endsWith('artifact'))?.content, 'built\n');
  assert.equal([...tree.values()].find((e) => e.path.endsWith('link'))?.linkname, 'artifact');

  const target = await build(daemon, ctx, { tags: ['multi:builder'], target: 'builder' });
  assert.equal(target.error, undefined, target.error);
  assert.equal(target.events.filter((e) => e.type === 'step').length, 2);
});

/** Images, containers and snapshots of a daemon (its snapshot metadata file lists every one). */
async function storeState(daemon: TestDaemon): Promise<unknown> {
  const images = JSON.parse((await apiRequest(daemon.socket, 'GET', '/images/json?all=1')).body) as Array<{ Id: string }>;
  const containers = JSON.parse((await apiRequest(daemon.socket, 'GET', '/containers/json?all=1')).body) as unknown[];
  await new Promise((r) => setTimeout(r, 300)); // the lease's end collects in the background of the response
  const meta = JSON.parse(await fs.readFile(`${daemon.dataRoot}/snapshots/metadata.json`, 'utf8')) as { snapshots?: Record<string, unknown> };
  return { images: images.map((i) => i.Id).sort(), containers, snapshots: Object.keys(meta.snapshots ?? meta).sort() };
}
