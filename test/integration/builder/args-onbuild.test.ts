import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { bootstrapBusybox, needsRoot, startTestDaemon } from '../../helpers/test-daemon';
import { build, history, imageTree, inspectImage, makeContext } from './helpers';

test('ARG: global ARG in FROM, build args over defaults, ENV wins over ARG, RUN history shows the args used; ONBUILD triggers run in the child', { skip: needsRoot() }, async (t) => {
  const daemon = await startTestDaemon();
  t.after(() => daemon.stop());
  await bootstrapBusybox(daemon);
  const parent = await makeContext({
    Dockerfile: [
      'ARG BASE=busybox',
      'FROM ${BASE}',
      'ARG WHO=world',
      'ARG SHADOWED=from-arg',
      'ENV SHADOWED=from-env',
      'RUN echo "hello $WHO $SHADOWED" > /greeting',
      'ONBUILD RUN echo "trigger ran" > /trigger',
      'ONBUILD ENV CHILD=yes',
    ].join('\n'),
  });
  t.after(() => fs.rm(parent, { recursive: true, force: true }));
  const r = await build(daemon, parent, { tags: ['args:parent'], buildArgs: { WHO: 'berth', UNUSED: 'x' } });
  assert.equal(r.error, undefined, r.error);
  assert.equal((await imageTree(daemon, 'args:parent', '/greeting')).get('greeting')?.content, 'hello berth from-env\n');
  assert.ok(r.events.some((e) => e.type === 'warning' && /\[UNUSED\] were not consumed/.test(e.message as string)));
  const img = await inspectImage(daemon, 'args:parent');
  assert.deepEqual(img.Config.OnBuild, ['RUN echo "trigger ran" > /trigger', 'ENV CHILD=yes']);
  const h = await history(daemon, 'args:parent');
  assert.ok(h.some((e) => e.CreatedBy === '|1 WHO=berth /bin/sh -c echo "hello $WHO $SHADOWED" > /greeting'), h.map((e) => e.CreatedBy).join('\n'));

  const child = await makeContext({ Dockerfile: 'FROM args:parent\nRUN cat /trigger\n' });
  t.after(() => fs.rm(child, { recursive: true, force: true }));
  const c = await build(daemon, child, { tags: ['args:child'] });
  assert.equal(c.error, undefined, c.error);
  assert.match(c.output, /trigger ran/);
  const childImg = await inspectImage(daemon, 'args:child');
  assert.equal(childImg.Config.OnBuild, null);
  assert.ok((childImg.Config.Env as string[]).includes('CHILD=yes'));
});
