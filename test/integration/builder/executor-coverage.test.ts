import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { bootstrapBusybox, needsRoot, startTestDaemon } from '../../helpers/test-daemon';
import { berth } from '../../helpers/cli';
import { build, imageTree, inspectImage, makeContext } from './helpers';

/**
 * Issue 9's promises the other builder tests do not reach: ADD of a local tar (extracted),
 * RUN and COPY heredocs, COPY --from an image, independent stages running at the same time,
 * and RUN's --network.
 */
test('executor: ADD extracts a local tar, heredocs run and copy, COPY --from an image, independent stages run together, RUN --network', { skip: needsRoot() }, async (t) => {
  const daemon = await startTestDaemon();
  t.after(() => daemon.stop());
  await bootstrapBusybox(daemon);

  await t.test('berth build with the issue\'s flags: -t -f --build-arg --target --no-cache --label --iidfile --pull=false', async () => {
    const ctx = await makeContext({
      'build.Dockerfile': 'FROM busybox AS stage\nARG K\nRUN echo "k=$K" > /k.txt\nFROM stage AS later\nRUN exit 9\n',
    });
    t.after(() => fs.rm(ctx, { recursive: true, force: true }));
    const iid = path.join(ctx, 'iid');
    const r = await berth(daemon.host, ['build', '-t', 'flags:1', '-f', path.join(ctx, 'build.Dockerfile'), '--build-arg', 'K=V', '--target', 'stage', '--no-cache', '--label', 'k=v', '--iidfile', iid, '--pull=false', ctx]);
    assert.equal(r.code, 0, r.stderr);
    const image = await inspectImage(daemon, 'flags:1');
    assert.equal((await fs.readFile(iid, 'utf8')).trim(), image.Id);
    assert.deepEqual(image.Config.Labels, { k: 'v' });
    assert.equal((await imageTree(daemon, 'flags:1', '/k.txt')).get('k.txt')?.content, 'k=V\n', 'the build arg, and the target stopped before the failing stage');
  });

  await t.test('ADD of a local tar.gz unpacks it into the destination; COPY of it does not', async () => {
    const ctx = await makeContext({ Dockerfile: 'FROM busybox\nADD bundle.tar.gz /unpacked/\nCOPY bundle.tar.gz /copied/\n', 'src/inner/x.txt': 'x\n', 'src/y.txt': 'y\n' });
    t.after(() => fs.rm(ctx, { recursive: true, force: true }));
    execFileSync('tar', ['-czf', path.join(ctx, 'bundle.tar.gz'), '-C', path.join(ctx, 'src'), '.']);
    const r = await build(daemon, ctx, { tags: ['add-tar:1'] });
    assert.equal(r.error, undefined, r.error);
    const unpacked = await imageTree(daemon, 'add-tar:1', '/unpacked');
    assert.equal(unpacked.get('unpacked/inner/x.txt')?.content, 'x\n');
    assert.equal(unpacked.get('unpacked/y.txt')?.content, 'y\n');
    assert.equal(unpacked.has('unpacked/bundle.tar.gz'), false);
    assert.equal((await imageTree(daemon, 'add-tar:1', '/copied')).get('copied/bundle.tar.gz')?.type, 'file');
  });

  await t.test('RUN <<EOF runs its body; COPY <<EOF writes it, expanded with ENV unless the delimiter is quoted', async () => {
    const ctx = await makeContext({
      Dockerfile: ['FROM busybox', 'ENV NAME=world', 'RUN <<EOF', 'echo "ran $NAME" > /run.txt', 'EOF', 'COPY <<EOT /copy.txt', 'hello $NAME', 'EOT', "COPY <<'RAW' /raw.txt", 'hello $NAME', 'RAW', ''].join('\n'),
    });
    t.after(() => fs.rm(ctx, { recursive: true, force: true }));
    const r = await build(daemon, ctx, { tags: ['heredoc:1'] });
    assert.equal(r.error, undefined, r.error);
    assert.equal((await imageTree(daemon, 'heredoc:1', '/run.txt')).get('run.txt')?.content, 'ran world\n');
    assert.equal((await imageTree(daemon, 'heredoc:1', '/copy.txt')).get('copy.txt')?.content, 'hello world\n');
    assert.equal((await imageTree(daemon, 'heredoc:1', '/raw.txt')).get('raw.txt')?.content, 'hello $NAME\n');
  });

  await t.test('COPY --from an image that is no stage', async () => {
    const ctx = await makeContext({ Dockerfile: 'FROM scratch\nCOPY --from=busybox /bin/busybox /bb\n' });
    t.after(() => fs.rm(ctx, { recursive: true, force: true }));
    const r = await build(daemon, ctx, { tags: ['from-image:1'] });
    assert.equal(r.error, undefined, r.error);
    const bb = (await imageTree(daemon, 'from-image:1', '/bb')).get('bb');
    assert.equal(bb?.type, 'file');
    assert.equal((bb?.mode ?? 0) & 0o111, 0o111);
  });

  await t.test('independent stages run at the same time: each RUN waits for the other\'s mark in a shared cache mount', async () => {
    // Each can only finish once the other has started (bounded, so a sequential executor fails instead of hanging).
    const id = `sync-${randomBytes(6).toString('hex')}`;
    const waitFor = (mine: string, other: string) =>
      `RUN --mount=type=cache,id=${id},target=/sync touch /sync/${mine} && i=0; while [ ! -e /sync/${other} ]; do i=$((i+1)); [ $i -gt 1200 ] && exit 7; sleep 0.1; done; echo ${mine} > /${mine}`;
    const ctx = await makeContext({
      Dockerfile: ['FROM busybox AS a', waitFor('a', 'b'), 'FROM busybox AS b', waitFor('b', 'a'), 'FROM busybox', 'COPY --from=a /a /a', 'COPY --from=b /b /b', ''].join('\n'),
    });
    t.after(() => fs.rm(ctx, { recursive: true, force: true }));
    const r = await build(daemon, ctx, { tags: ['parallel:1'] });
    assert.equal(r.error, undefined, r.error);
    assert.equal((await imageTree(daemon, 'parallel:1', '/a')).get('a')?.content, 'a\n');
    assert.equal((await imageTree(daemon, 'parallel:1', '/b')).get('b')?.content, 'b\n');
  });

  await t.test('RUN --network=none has only loopback; the build\'s default network gives RUN an interface', async () => {
    const ctx = await makeContext({ Dockerfile: 'FROM busybox\nRUN --network=none cat /proc/net/dev > /none.txt\nRUN cat /proc/net/dev > /default.txt\n' });
    t.after(() => fs.rm(ctx, { recursive: true, force: true }));
    const r = await build(daemon, ctx, { tags: ['net:1'] });
    assert.equal(r.error, undefined, r.error);
    const names = async (file: string) =>
      ((await imageTree(daemon, 'net:1', file)).get(file.slice(1))?.content ?? '').split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean).sort();
    assert.deepEqual(await names('/none.txt'), ['lo']);
    assert.ok((await names('/default.txt')).includes('eth0'), 'the default network has eth0');
    const none = await build(daemon, ctx, { tags: ['net:2'], networkMode: 'none', noCache: true });
    assert.equal(none.error, undefined, none.error);
    assert.deepEqual(
      ((await imageTree(daemon, 'net:2', '/default.txt')).get('default.txt')?.content ?? '').split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean),
      ['lo'],
      'networkmode=none applies to every RUN',
    );
  });
});
