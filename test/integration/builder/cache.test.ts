import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon } from '../../helpers/test-daemon';
import { build, imageTree, makeContext, type BuildOutcome } from './helpers';

const DOCKERFILE = [
  'FROM busybox',
  'ENV APP=/app',
  'WORKDIR $APP',
  'COPY deps.txt ./',
  'RUN cat deps.txt > installed.txt && date +%s%N > stamp',
  'COPY src/ ./src/',
  'RUN ls src > listing',
  'CMD ["cat", "listing"]',
].join('\n');

/** Per step (in order): was it a cache hit? */
function cachedSteps(r: BuildOutcome): boolean[] {
  return r.events.filter((e) => e.type === 'step-done').map((e) => e.cached as boolean);
}

test('the cache: a rebuild with no change is all hits with the same image ID, a changed file reruns from its COPY, mtimes do not count, --no-cache, restart, df and prune', { skip: needsRoot() }, async (t) => {
  const daemon = await startTestDaemon();
  t.after(() => daemon.stop());
  await bootstrapBusybox(daemon);
  const ctx = await makeContext({ Dockerfile: DOCKERFILE, 'deps.txt': 'dep-a\n', 'src/one.txt': '1', 'src/two.txt': '2' });
  t.after(() => fs.rm(ctx, { recursive: true, force: true }));

  const first = await build(daemon, ctx, { tags: ['cached:1'] });
  assert.equal(first.error, undefined, first.error);
  assert.deepEqual(cachedSteps(first), [false, false, false, false, false, false, false, false]);

  const second = await build(daemon, ctx, { tags: ['cached:2'] });
  assert.equal(second.error, undefined, second.error);
  assert.deepEqual(cachedSteps(second), [false, true, true, true, true, true, true, true], 'FROM is not a cache step; every other step hits');
  assert.equal(second.imageId, first.imageId, 'the same image, byte for byte');
  assert.equal(second.events.filter((e) => e.type === 'container').length, 0, 'no RUN container');

  // Touching a file (mtime only) keeps the cache; changing one file reruns from its COPY on.
  await fs.utimes(path.join(ctx, 'src/one.txt'), new Date(1e12), new Date(1e12));
  const touched = await build(daemon, ctx, {});
  assert.equal(touched.imageId, first.imageId);
  await fs.writeFile(path.join(ctx, 'src/two.txt'), 'two, changed');
  const changed = await build(daemon, ctx, { tags: ['cached:3'] });
  assert.equal(changed.error, undefined, changed.error);
  assert.deepEqual(cachedSteps(changed), [false, true, true, true, true, false, false, false]);
  const stampBefore = (await imageTree(daemon, 'cached:1', '/app/stamp')).get('stamp')?.content;
  const stampAfter = (await imageTree(daemon, 'cached:3', '/app/stamp')).get('stamp')?.content;
  assert.equal(stampAfter, stampBefore, 'the first RUN did not run again');

  const noCache = await build(daemon, ctx, { noCache: true });
  assert.deepEqual(cachedSteps(noCache), [false, false, false, false, false, false, false, false]);

  // Entries survive a daemon killed and started again (and its collection at start).
  await daemon.crash();
  await daemon.restart();
  const afterRestart = await build(daemon, ctx, {});
  assert.deepEqual(cachedSteps(afterRestart), [false, true, true, true, true, true, true, true]);

  const df = JSON.parse((await apiRequest(daemon.socket, 'GET', '/system/df')).body) as { BuildCache: Array<{ Size: number; Description: string; UsageCount: number }> };
  assert.ok(df.BuildCache.length >= 7, `build cache listed: ${df.BuildCache.length}`);
  assert.ok(df.BuildCache.some((e) => e.Description.includes('RUN') || e.Description.includes('cat deps.txt')));
  assert.ok(df.BuildCache.some((e) => e.Size > 0));

  const prune = await apiRequest(daemon.socket, 'POST', '/build/prune');
  assert.equal(prune.status, 200);
  const pruned = JSON.parse(prune.body) as { CachesDeleted: string[]; SpaceReclaimed: number };
  assert.equal(pruned.CachesDeleted.length, df.BuildCache.length);
  const dfAfter = JSON.parse((await apiRequest(daemon.socket, 'GET', '/system/df')).body) as { BuildCache: unknown[] };
  assert.deepEqual(dfAfter.BuildCache, []);
  const afterPrune = await build(daemon, ctx, {});
  assert.equal(afterPrune.error, undefined, afterPrune.error);
  assert.deepEqual(cachedSteps(afterPrune), [false, false, false, false, false, false, false, false]);
});
