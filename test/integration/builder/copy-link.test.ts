import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { bootstrapBusybox, needsRoot, startTestDaemon } from '../../helpers/test-daemon';
import { build, history, imageTree, inspectImage, makeContext, type BuildOutcome } from './helpers';

/** Whether each step (in order) came from the cache. */
function cachedSteps(r: BuildOutcome): boolean[] {
  return r.events.filter((e) => e.type === 'step-done').map((e) => e.cached === true);
}

test('COPY --link: the files go into a layer of their own (no path through the parent\'s symlinks), reused when the base or an earlier step changes', { skip: needsRoot() }, async (t) => {
  const daemon = await startTestDaemon();
  t.after(() => daemon.stop());
  await bootstrapBusybox(daemon);
  const norm = (tree: Map<string, { type: string; content?: string; uid: number; gid: number; mode: number; linkname?: string }>) => new Map([...tree].map(([p, e]) => [p.replace(/^(\.?\/)+/, ''), e]));

  await t.test('a destination through a symlink of an earlier layer: plain COPY follows it, --link does not', async () => {
    const base = await makeContext({ Dockerfile: 'FROM busybox\nRUN mkdir /real && ln -s /real /app\n' });
    t.after(() => fs.rm(base, { recursive: true, force: true }));
    assert.equal((await build(daemon, base, { tags: ['linkbase:1'] })).error, undefined);
    const ctx = await makeContext({
      Dockerfile: 'FROM linkbase:1\nCOPY f.txt /app/plain.txt\nCOPY --link --chown=7:8 --chmod=640 f.txt /app/linked.txt\n',
      'f.txt': 'content\n',
    });
    t.after(() => fs.rm(ctx, { recursive: true, force: true }));
    const r = await build(daemon, ctx, { tags: ['linked:1'] });
    assert.equal(r.error, undefined, r.error);
    const tree = norm(await imageTree(daemon, 'linked:1', '/'));
    // The linked layer holds app/ as a folder, which replaces the symlink in the merged view (as BuildKit's).
    assert.equal(tree.get('app')?.type, 'directory');
    assert.equal(tree.get('app/linked.txt')?.content, 'content\n');
    assert.deepEqual([tree.get('app/linked.txt')?.uid, tree.get('app/linked.txt')?.gid, tree.get('app/linked.txt')?.mode], [7, 8, 0o640]);
    assert.equal(tree.get('real/plain.txt')?.content, 'content\n', 'plain COPY went through the symlink to /real');
    assert.equal(tree.has('real/linked.txt'), false, '--link did not');
    const image = await inspectImage(daemon, 'linked:1');
    const linkedLayer = (await history(daemon, 'linked:1'))[0]!;
    assert.match(linkedLayer.CreatedBy as string, /^\/bin\/sh -c #\(nop\) COPY --chown=7:8file:[0-9a-f]{64} in \/app\/linked\.txt $/);
    assert.equal(image.RootFS.Layers.length, 4, 'busybox, the RUN, the two COPYs');
  });

  await t.test('its cache key leaves out the earlier layers: a changed base and a changed earlier step reuse the linked layer', async () => {
    const other = await makeContext({ Dockerfile: 'FROM busybox\nRUN echo other > /other\n' });
    t.after(() => fs.rm(other, { recursive: true, force: true }));
    assert.equal((await build(daemon, other, { tags: ['otherbase:1'] })).error, undefined);
    const ctx = await makeContext({
      Dockerfile: 'ARG BASE=busybox\nFROM $BASE\nARG STEP=one\nRUN echo $STEP > /step\nCOPY --link data/ /data/\nCOPY data/ /plain/\n',
      'data/a.txt': 'a\n',
      'data/sub/b.txt': 'b\n',
    });
    t.after(() => fs.rm(ctx, { recursive: true, force: true }));
    const first = await build(daemon, ctx, { tags: ['reuse:1'] });
    assert.equal(first.error, undefined, first.error);
    assert.deepEqual(cachedSteps(first), [false, false, false, false, false]);
    const layers1 = (await inspectImage(daemon, 'reuse:1')).RootFS.Layers as string[];

    const otherStep = await build(daemon, ctx, { tags: ['reuse:2'], buildArgs: { STEP: 'two' } });
    assert.equal(otherStep.error, undefined, otherStep.error);
    // FROM, ARG: cached; the RUN reruns; COPY --link is a hit of its own key; the plain COPY reruns.
    assert.deepEqual(cachedSteps(otherStep), [false, true, false, true, false], 'FROM, ARG, RUN, COPY --link, COPY');
    const layers2 = (await inspectImage(daemon, 'reuse:2')).RootFS.Layers as string[];
    assert.equal(layers2.at(-2), layers1.at(-2), 'the same linked layer (diff ID)');
    assert.notEqual(layers2.at(-3), layers1.at(-3));

    const otherBase = await build(daemon, ctx, { tags: ['reuse:3'], buildArgs: { BASE: 'otherbase:1' } });
    assert.equal(otherBase.error, undefined, otherBase.error);
    assert.equal(cachedSteps(otherBase)[3], true, 'COPY --link is a hit on another base');
    const layers3 = (await inspectImage(daemon, 'reuse:3')).RootFS.Layers as string[];
    assert.equal(layers3.at(-2), layers1.at(-2));
    const tree = norm(await imageTree(daemon, 'reuse:3', '/'));
    assert.equal(tree.get('data/sub/b.txt')?.content, 'b\n');
    assert.equal(tree.get('other')?.content, 'other\n', 'on the new base');
    assert.equal(tree.get('step')?.content, 'one\n');

    // A changed file reruns it.
    await fs.writeFile(`${ctx}/data/a.txt`, 'changed\n');
    const changed = await build(daemon, ctx, { tags: ['reuse:4'] });
    assert.equal(changed.error, undefined, changed.error);
    assert.deepEqual(cachedSteps(changed).slice(0, 5), [false, true, true, false, false]);
    assert.notEqual(((await inspectImage(daemon, 'reuse:4')).RootFS.Layers as string[]).at(-2), layers1.at(-2));
    assert.equal(norm(await imageTree(daemon, 'reuse:4', '/data')).get('data/a.txt')?.content, 'changed\n');
  });
});
