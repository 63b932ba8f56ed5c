import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../../helpers/test-daemon';
import { build, imageTree, makeContext } from './helpers';

/** Images, containers and snapshots of a daemon. */
async function storeState(daemon: TestDaemon): Promise<unknown> {
  const images = JSON.parse((await apiRequest(daemon.socket, 'GET', '/images/json?all=1')).body) as Array<{ Id: string; RepoTags: string[] }>;
  const containers = JSON.parse((await apiRequest(daemon.socket, 'GET', '/containers/json?all=1')).body) as unknown[];
  const meta = JSON.parse(await fs.readFile(`${daemon.dataRoot}/snapshots/metadata.json`, 'utf8')) as { snapshots: Record<string, unknown> };
  return { images: images.map((i) => `${i.Id} ${i.RepoTags?.join(',')}`).sort(), containers, snapshots: Object.keys(meta.snapshots).sort() };
}

test('bad input: errors name the Dockerfile line and the path; links out of the context are refused; nothing is left behind', { skip: needsRoot() }, async (t) => {
  const daemon = await startTestDaemon();
  t.after(() => daemon.stop());
  await bootstrapBusybox(daemon);
  const secret = await makeContext({ 'host-secret.txt': 'do not copy me' });
  t.after(() => fs.rm(secret, { recursive: true, force: true }));
  const before = await storeState(daemon);

  const cases: Array<[string, Record<string, string | { symlink: string }>, RegExp]> = [
    ['FROM busybox\nCOPY ok.txt /\nCOPY nope.txt /nope/\n', { 'ok.txt': 'ok' },
      /^Dockerfile:3: COPY failed: file not found in build context or excluded by \.dockerignore: stat nope\.txt: file does not exist$/],
    ['FROM busybox\nCOPY ok.txt /\nFROBNICATE x\n', { 'ok.txt': 'ok' }, /^Dockerfile:3: unknown instruction: FROBNICATE/],
    ['FROM busybox\nCOPY --badflag=1 ok.txt /\n', { 'ok.txt': 'ok' }, /^Dockerfile:2: unknown flag: --badflag/],
    ['FROM busybox\nCOPY ok.txt /\nCOPY link /stolen\n', { 'ok.txt': 'ok', link: { symlink: `${secret}/host-secret.txt` } },
      /^Dockerfile:3: COPY failed: forbidden path outside the build context or excluded by \.dockerignore: link/],
    ['FROM busybox\nCOPY ok.txt /\nADD up/file /stolen\n', { 'ok.txt': 'ok', up: { symlink: '../../../../../../..' + secret } },
      /^Dockerfile:3: ADD failed: forbidden path outside/],
    ['FROM busybox\nCOPY a.txt b.txt /dest\n', { 'a.txt': 'a', 'b.txt': 'b' }, /^Dockerfile:2: COPY failed: When using COPY with more than one source file, the destination must be a directory and end with a \//],
    ['FROM busybox\nADD http://127.0.0.1:59999/nothing.tar /x/\n', {}, /^Dockerfile:2: ADD failed: failed to GET http:\/\/127\.0\.0\.1:59999\/nothing\.tar: ECONNREFUSED/],
    ['FROM no-such-image-here:1\n', {}, /No such image|pull access denied|no-such-image-here/],
  ];
  for (const [dockerfile, files, expected] of cases) {
    const ctx = await makeContext({ Dockerfile: dockerfile, ...files });
    try {
      const r = await build(daemon, ctx, { tags: ['bad:1'], pull: 'never' });
      assert.match(r.error ?? '(no error)', expected, dockerfile);
    } finally {
      await fs.rm(ctx, { recursive: true, force: true });
    }
    // Steps that succeeded before the failure stay as build cache only.
    assert.equal((await apiRequest(daemon.socket, 'POST', '/build/prune')).status, 200);
    assert.deepEqual(await storeState(daemon), before, `nothing left after: ${dockerfile}`);
  }

  // A symlink below a copied directory is copied as a link (not followed), and a destination
  // through an image's absolute symlink stays inside the image.
  const ctx = await makeContext({
    Dockerfile: 'FROM busybox\nRUN mkdir /app && ln -s /etc /app/etc-link\nCOPY dir/ /app/etc-link/copied/\n',
    'dir/file.txt': 'inside',
    'dir/out': { symlink: `${secret}/host-secret.txt` },
  });
  t.after(() => fs.rm(ctx, { recursive: true, force: true }));
  const r = await build(daemon, ctx, { tags: ['links:1'] });
  assert.equal(r.error, undefined, r.error);
  const tree = await imageTree(daemon, 'links:1', '/etc/copied');
  assert.equal(tree.get('copied/file.txt')?.content, 'inside');
  assert.equal(tree.get('copied/out')?.linkname, `${secret}/host-secret.txt`);
});
