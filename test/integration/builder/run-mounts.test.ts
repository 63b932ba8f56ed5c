import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { bootstrapBusybox, needsRoot, startTestDaemon } from '../../helpers/test-daemon';
import { build, imageTree, makeContext } from './helpers';

test('RUN --mount: a secret is readable and leaves no trace in the layer, a cache mount persists across builds, a bind mount reads the context', { skip: needsRoot() }, async (t) => {
  const daemon = await startTestDaemon();
  t.after(() => daemon.stop());
  await bootstrapBusybox(daemon);
  const ctx = await makeContext({
    Dockerfile: [
      'FROM busybox',
      'RUN --mount=type=secret,id=token,required=true cat /run/secrets/token | wc -c > /secret-length',
      'RUN --mount=type=cache,target=/var/cache/app echo run >> /var/cache/app/log && wc -l < /var/cache/app/log > /runs',
      'RUN --mount=type=bind,source=data,target=/mnt cat /mnt/x.txt > /from-bind',
    ].join('\n'),
    'data/x.txt': 'bound content',
  });
  t.after(() => fs.rm(ctx, { recursive: true, force: true }));
  const secretFile = path.join(ctx, '..', `${path.basename(ctx)}-secret`);
  await fs.writeFile(secretFile, 's3cr3t-value');
  t.after(() => fs.rm(secretFile, { force: true }));

  const first = await build(daemon, ctx, { tags: ['mounts:1'], secrets: { token: secretFile } });
  assert.equal(first.error, undefined, first.error);
  const root = await imageTree(daemon, 'mounts:1', '/');
  const norm = (p: string): string => p.replace(/^(\.?\/)+/, '');
  const file = (name: string): string | undefined => [...root.values()].find((e) => norm(e.path) === name)?.content;
  assert.ok(file('bin/busybox') !== undefined || [...root.keys()].some((p) => norm(p) === 'bin'), `the archive's names: ${[...root.keys()].slice(0, 5).join(' ')}`);
  assert.equal(file('secret-length')?.trim(), String('s3cr3t-value'.length));
  assert.equal(file('runs')?.trim(), '1');
  assert.equal(file('from-bind'), 'bound content');
  assert.ok(![...root.keys()].some((p) => p.includes('run/secrets') || p.includes('var/cache/app') || norm(p) === 'mnt'), `no mount point in the image: ${[...root.keys()].filter((p) => /run|cache|mnt/.test(p)).join(' ')}`);
  assert.ok(![...root.keys()].some((p) => norm(p) === 'run'), 'busybox has no /run: the secret\'s mount point parents are gone too');

  const second = await build(daemon, ctx, { tags: ['mounts:2'], secrets: { token: secretFile }, noCache: true });
  assert.equal(second.error, undefined, second.error);
  assert.equal((await imageTree(daemon, 'mounts:2', '/runs')).get('runs')?.content?.trim(), '2', 'the cache mount kept the first build\'s file');

  const missing = await build(daemon, ctx, { noCache: true });
  assert.match(missing.error ?? '', /^Dockerfile:2: secret token: not provided/);
});
