import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, statSync } from 'node:fs';
import * as path from 'node:path';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon } from '../../helpers/test-daemon';
import { DOCKER_CLIENTS, docker } from '../../helpers/cli';
import { privateDockerdSkipReason, startPrivateDockerd } from '../../helpers/private-dockerd';
import { imageTree, makeContext } from './helpers';

/**
 * COPY's history names its sources by tarsums of the tar headers the client sent. A local
 * folder build (POST /berth/build/local, no tar) synthesizes the headers the docker CLI would
 * have sent for the same folder, so it writes the same history as a `docker build` of it:
 * the same `file:`/`dir:`/`multi:` values, the same layers, and (its steps then cached) the
 * same image; and the values are dockerd 20.10's where a private dockerd can run.
 */
const DOCKER_28 = DOCKER_CLIENTS.find((c) => c === '/usr/local/bin/docker');
const skip = needsRoot() || (DOCKER_28 === undefined && 'needs the docker 28 client (/usr/local/bin/docker)') || false;

const DOCKERFILE = [
  'FROM busybox',
  'COPY a.txt /a.txt',
  'COPY dir /d',
  'COPY dir/ /d2/',
  'COPY a.txt b*.txt /multi/',
  'COPY hard.txt /hard.txt',
  'COPY to-a /via-link',
  'COPY dir/sub/deep.txt /deep.txt',
  'COPY to-dir/inner.txt /via-dir-link.txt',
  'COPY to-dir/ /via-dir-link/',
  'COPY . /all/',
  '',
].join('\n');

async function makeHistoryContext(): Promise<string> {
  const dir = await makeContext({
    Dockerfile: DOCKERFILE,
    '.dockerignore': '*.log\n',
    'a.txt': 'A\n',
    'b1.txt': 'B1\n',
    'b2.txt': { content: 'B22\n', mode: 0o600 },
    'dir/inner.txt': { content: 'inner\n', mode: 0o640 },
    'dir/run.sh': { content: '#!/bin/sh\n', mode: 0o4755 },
    'dir/sub/deep.txt': 'deep\n',
    'dir/rel-link': { symlink: 'inner.txt' },
    'dir/skip.log': 'ignored\n',
    'to-a': { symlink: 'a.txt' },
    'to-dir': { symlink: 'dir' },
  });
  await fs.chmod(path.join(dir, 'dir'), 0o750);
  // Not root's: the CLI sends uid/gid 0 whoever owns the files.
  await fs.chown(path.join(dir, 'dir', 'sub'), 1000, 1000);
  await fs.chown(path.join(dir, 'dir', 'sub', 'deep.txt'), 1000, 1000);
  // A second name of a.txt: the CLI sends it as a hard link to the first name its walk meets.
  await fs.link(path.join(dir, 'a.txt'), path.join(dir, 'hard.txt'));
  return dir;
}

function copyLines(history: Array<{ CreatedBy: string }>): string[] {
  return history.map((h) => h.CreatedBy).filter((c) => c.includes('#(nop) COPY'));
}

test('a local folder build writes the COPY history a docker CLI tar build of the same folder gets (berth\'s tar path, and dockerd 20.10)', { skip }, async (t) => {
  const daemon = await startTestDaemon();
  t.after(() => daemon.stop());
  await bootstrapBusybox(daemon);
  const ctx = await makeHistoryContext();
  t.after(() => fs.rm(ctx, { recursive: true, force: true }));

  const tar = await docker(DOCKER_28!, daemon.host, ['build', '--no-cache', '-q', '-t', 'tar:1', ctx]);
  assert.equal(tar.code, 0, tar.stderr);
  const st = statSync(ctx, { bigint: true });
  const buildLocal = async (query: string) => {
    const res = await apiRequest(daemon.socket, 'POST', `/berth/build/local?${query}`, { context: ctx, dev: String(st.dev), ino: String(st.ino) });
    assert.equal(res.status, 200, res.body);
    assert.ok(!res.body.includes('errorDetail'), res.body);
    return res.body;
  };
  const inspect = async (ref: string) => JSON.parse((await apiRequest(daemon.socket, 'GET', `/images/${ref}/json`)).body) as { Id: string };
  const historyOf = async (socket: string, ref: string) => JSON.parse((await apiRequest(socket, 'GET', `/images/${ref}/history`)).body) as Array<{ CreatedBy: string }>;

  // The folder read in place has the cache keys of the docker CLI's tar of it: every step is the tar build's.
  const cached = await buildLocal('t=cached:1');
  assert.equal((cached.match(/ Using cache\\n/g) ?? []).length, 10, cached);
  assert.equal((await inspect('cached:1')).Id, (await inspect('tar:1')).Id);

  await buildLocal('t=local:1&nocache=1');
  const [tarHistory, localHistory] = [await historyOf(daemon.socket, 'tar:1'), await historyOf(daemon.socket, 'local:1')];
  const tarCopies = copyLines(tarHistory);
  assert.equal(tarCopies.length, 10, tarCopies.join('\n'));
  assert.ok(tarCopies.every((c) => /#\(nop\) COPY (file|dir|multi):[0-9a-f]{64} in /.test(c)), tarCopies.join('\n'));
  assert.deepEqual(localHistory.map((h) => h.CreatedBy), tarHistory.map((h) => h.CreatedBy));
  // The same files (layer digests also hold the mtimes of the folders a step makes: its wall-clock second).
  for (const dest of ['/a.txt', '/d', '/d2', '/multi', '/hard.txt', '/via-link', '/deep.txt', '/via-dir-link.txt', '/via-dir-link', '/all']) {
    assert.deepEqual([...(await imageTree(daemon, 'local:1', dest)).values()], [...(await imageTree(daemon, 'tar:1', dest)).values()], dest);
  }

  const noDockerd = privateDockerdSkipReason();
  if (noDockerd) {
    t.diagnostic(`dockerd comparison skipped: ${noDockerd}`);
    return;
  }
  const dockerd = await startPrivateDockerd();
  t.after(() => dockerd.stop());
  // The same busybox on both: berth's, saved and loaded into dockerd.
  const saved = await docker(DOCKER_28!, daemon.host, ['save', 'busybox']);
  assert.equal(saved.code, 0, saved.stderr);
  const loaded = await docker(DOCKER_28!, dockerd.host, ['load', '-q'], { input: saved.stdoutBytes });
  assert.equal(loaded.code, 0, loaded.stderr);
  const viaDockerd = await docker(DOCKER_28!, dockerd.host, ['build', '-q', '-t', 'tar:1', ctx]);
  assert.equal(viaDockerd.code, 0, viaDockerd.stderr);
  assert.deepEqual(copyLines(localHistory), copyLines(await historyOf(dockerd.socket, 'tar:1')));
});
