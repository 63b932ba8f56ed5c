import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../../helpers/test-daemon';
import { berth, DOCKER_CLIENTS, docker } from '../../helpers/cli';
import { imageTree, makeContext } from './helpers';

/**
 * `berth build` with a daemon on the same host reads the context folder in place
 * (POST /berth/build/local) instead of sending a tar: the same .dockerignore semantics as the
 * tar docker sends, nothing outside the folder reachable, and file digests reused across
 * builds only while a file's (dev, ino, size, mtime, ctime) stays.
 */

/** POST /berth/build/local as the CLI sends it; the classic stream's messages. */
async function buildLocal(daemon: TestDaemon, dir: string, claim: { dev?: string; ino?: string } = {}, query = ''): Promise<{ status: number; body: string; messages: Array<Record<string, any>> }> {
  const st = statSync(dir, { bigint: true });
  const res = await apiRequest(daemon.socket, 'POST', `/berth/build/local${query}`, { context: dir, dev: claim.dev ?? String(st.dev), ino: claim.ino ?? String(st.ino) });
  const messages = res.status === 200 ? res.body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, any>) : [];
  return { ...res, messages };
}

function listing(tree: Map<string, { type: string; content?: string; linkname?: string }>): string[] {
  return [...tree].map(([p, e]) => `${p} ${e.type}${e.content !== undefined ? ` ${e.content}` : ''}${e.linkname ? ` -> ${e.linkname}` : ''}`).sort();
}

test('a local context: berth build reads the folder in place with .dockerignore as docker applies it, refuses what leads out of it, and reuses digests only for unchanged files', { skip: needsRoot() }, async (t) => {
  const daemon = await startTestDaemon();
  t.after(() => daemon.stop());
  await bootstrapBusybox(daemon);
  const outside = await makeContext({ 'secret.txt': 'host secret\n' });
  t.after(() => fs.rm(outside, { recursive: true, force: true }));
  const ctx = await makeContext({
    Dockerfile: 'FROM busybox\nCOPY . /c\n',
    '.dockerignore': '*.key\n**/*.log\n!sub/keep/*.log\nskipped\nlinks\n',
    'a.txt': 'A',
    'secret.key': 'no',
    'sub/x.log': 'no',
    'sub/keep/y.log': 'yes',
    'sub/inner': { symlink: '../a.txt' },
    'skipped/z.txt': 'no',
    // Excluded, so the tar path never sends it and COPY . never meets it here either.
    'links/out': { symlink: outside },
    'to-skipped': { symlink: 'skipped' },
  });
  t.after(() => fs.rm(ctx, { recursive: true, force: true }));

  await t.test('the image holds what docker\'s tar would (a docker CLI sends one to POST /build)', async () => {
    const local = await berth(daemon.host, ['build', '-q', '-t', 'local:1', ctx]);
    assert.equal(local.code, 0, local.stderr);
    const tree = await imageTree(daemon, 'local:1', '/c');
    const localTree = listing(tree);
    assert.ok(localTree.includes('c/sub/keep/y.log file yes') && localTree.includes('c/sub/inner symlink -> ../a.txt') && localTree.includes('c/to-skipped symlink -> skipped'), localTree.join('\n'));
    assert.deepEqual([...tree.keys()].filter((p) => /secret\.key|x\.log|skipped\/|links/.test(p)), []);
    const client = DOCKER_CLIENTS[0];
    if (client === undefined) return;
    // The docker CLI packs the context itself; its tar path leaves out the excluded link to outside as well.
    const tar = await docker(client, daemon.host, ['build', '-q', '-t', 'tar:1', ctx]);
    assert.equal(tar.code, 0, tar.stderr);
    assert.deepEqual(localTree, listing(await imageTree(daemon, 'tar:1', '/c')));
  });

  await t.test('nothing outside the folder is reachable: a symlink leading out, a path through an excluded folder, `..`', async () => {
    for (const [dockerfile, message] of [
      ['FROM busybox\nCOPY to-outside/secret.txt /x\n', /forbidden path outside the build context/],
      ['FROM busybox\nCOPY dir /x\n', /forbidden path outside the build context: dir\/out -> /],
      ['FROM busybox\nCOPY to-skipped/z.txt /x\n', /file not found in build context or excluded by \.dockerignore: stat to-skipped\/z\.txt/],
      ['FROM busybox\nCOPY skipped/z.txt /x\n', /file not found in build context or excluded by \.dockerignore/],
      ['FROM busybox\nCOPY ../../../../etc/hostname /x\n', /file not found in build context/],
    ] as const) {
      const dir = await makeContext({
        Dockerfile: dockerfile,
        '.dockerignore': 'skipped\n',
        'skipped/z.txt': 'no',
        'to-skipped': { symlink: 'skipped' },
        'to-outside': { symlink: outside },
        'dir/ok.txt': 'ok',
        'dir/out': { symlink: path.join(outside, 'secret.txt') },
      });
      try {
        const r = await berth(daemon.host, ['build', '-q', dir]);
        assert.notEqual(r.code, 0, dockerfile);
        assert.match(r.stderr, message);
        assert.ok(!r.stdout.includes('host secret') && !r.stderr.includes('host secret'));
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    }
  });

  await t.test('the daemon checks the folder is the one the client sees; the route is berth\'s own', async () => {
    const wrong = await buildLocal(daemon, ctx, { ino: '1' });
    assert.equal(wrong.status, 400);
    assert.match(wrong.body, /the build context cannot be read in place: .* is another folder on the daemon's host than the client's/);
    const missing = await apiRequest(daemon.socket, 'POST', '/berth/build/local', { context: path.join(ctx, 'nope'), dev: '1', ino: '1' });
    assert.equal(missing.status, 400);
    assert.match(missing.body, /is not a folder on the daemon's host/);
    const relative = await apiRequest(daemon.socket, 'POST', '/berth/build/local', { context: 'ctx', dev: '1', ino: '1' });
    assert.equal(relative.status, 400);
    assert.match(relative.body, /context must be an absolute path/);
    const ok = await buildLocal(daemon, ctx, {}, '?t=api:1');
    assert.equal(ok.status, 200, ok.body);
    assert.ok(ok.messages.some((m) => m.aux?.ID), ok.body);
  });

  await t.test('a client that is not root (SO_PEERCRED) is refused: the daemon would read the folder as root for it', async () => {
    const st = statSync(ctx, { bigint: true });
    // A uid-1000 process in group 0, so it may connect to the test daemon's socket (its temp folders opened for it to pass).
    for (let dir = path.dirname(daemon.socket); dir.startsWith(`${os.tmpdir()}/`); dir = path.dirname(dir)) await fs.chmod(dir, 0o711);
    const script = `
      const http = require('http');
      const body = JSON.stringify({ context: ${JSON.stringify(ctx)}, dev: '${st.dev}', ino: '${st.ino}' });
      const req = http.request({ socketPath: ${JSON.stringify(daemon.socket)}, method: 'POST', path: '/berth/build/local', headers: { 'Content-Type': 'application/json' } }, (res) => {
        let text = ''; res.on('data', (c) => (text += c)); res.on('end', () => { process.stdout.write(JSON.stringify({ status: res.statusCode, body: text })); });
      });
      req.on('error', (err) => { process.stdout.write(JSON.stringify({ error: err.message })); });
      req.end(body);`;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script], { uid: 1000, gid: 0, stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (c: Buffer) => (text += c.toString()));
      child.on('error', reject);
      child.on('close', () => resolve(text));
    });
    const res = JSON.parse(out) as { status?: number; body?: string; error?: string };
    assert.equal(res.error, undefined, 'the uid-1000 client reaches the socket');
    assert.equal(res.status, 400, res.body);
    assert.match(res.body ?? '', /the build context cannot be read in place: the client runs as uid 1000, not root/);
    // Root's own request (this process) is served.
    const ok = await buildLocal(daemon, ctx, {}, '?t=root:1');
    assert.equal(ok.status, 200, ok.body);
  });

  await t.test('a RUN bind mount of the context would show the folder itself: the CLI sends a tar then', async () => {
    const dir = await makeContext({ Dockerfile: 'FROM busybox\nRUN --mount=type=bind,target=/m,rw ls /m && touch /m/written\n', '.dockerignore': 'hidden\n', hidden: 'h', 'seen.txt': 's' });
    try {
      const api = await buildLocal(daemon, dir);
      assert.equal(api.status, 400);
      assert.match(api.body, /the build context cannot be read in place: a RUN --mount=type=bind reads the context/);
      const r = await berth(daemon.host, ['build', '--progress', 'plain', dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.includes('seen.txt') && !r.stdout.includes('hidden'), r.stdout);
      assert.deepEqual((await fs.readdir(dir)).sort(), ['.dockerignore', 'Dockerfile', 'hidden', 'seen.txt'], 'the rw mount wrote into a copy, not the folder');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  await t.test('digests are reused only while (dev, ino, size, mtime, ctime) stay: same size and mtime with new content reruns the COPY', async () => {
    const dir = await makeContext({ Dockerfile: 'FROM busybox\nCOPY data /data\n', 'data/f.txt': 'aaaa' });
    try {
      // Older than the racy window, so its digest is kept.
      await new Promise((r) => setTimeout(r, 2500));
      const first = await berth(daemon.host, ['build', '-q', '-t', 'dg:1', dir]);
      assert.equal(first.code, 0, first.stderr);
      const again = await berth(daemon.host, ['build', '-q', dir]);
      assert.equal(again.stdout, first.stdout, 'unchanged: the same image');
      const file = path.join(dir, 'data', 'f.txt');
      const before = await fs.stat(file);
      await fs.writeFile(file, 'bbbb');
      await fs.utimes(file, before.atime, before.mtime);
      const changed = await berth(daemon.host, ['build', '-q', '-t', 'dg:2', dir]);
      assert.equal(changed.code, 0, changed.stderr);
      assert.notEqual(changed.stdout, first.stdout);
      assert.equal((await imageTree(daemon, 'dg:2', '/data/f.txt')).get('f.txt')?.content, 'bbbb');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  await t.test('racing: a folder swapped for a symlink to the host\'s /etc while COPY walks it never brings a host file in', async () => {
    const files: Record<string, string> = { Dockerfile: 'FROM busybox\nCOPY tree /d\n' };
    for (let i = 0; i < 300; i++) files[`tree/sub/f${i}.txt`] = `file ${i}`;
    const dir = await makeContext(files);
    // The swapper: `sub` is a folder, then a symlink to /etc, then the folder again, as fast as it can.
    const swapper = spawn(process.execPath, ['-e', `
      const fs = require('fs'); const d = process.argv[1];
      for (;;) { try { fs.renameSync(d + '/sub', d + '/sub.dir'); fs.symlinkSync('/etc', d + '/sub'); fs.unlinkSync(d + '/sub'); fs.renameSync(d + '/sub.dir', d + '/sub'); } catch {} }
    `, path.join(dir, 'tree')], { stdio: 'ignore' });
    try {
      let built = 0;
      for (let i = 0; i < 6; i++) {
        const r = await berth(daemon.host, ['build', '-q', '--no-cache', '-t', `race:${i}`, dir]);
        if (r.code !== 0) {
          assert.match(r.stderr, /forbidden path outside the build context|file not found|no such file|ENOENT/, r.stderr);
          continue;
        }
        built++;
        const tree = await imageTree(daemon, `race:${i}`, '/d');
        const strays = [...tree.keys()].filter((p) => p !== 'd' && !/^d\/(sub(\.dir)?)(\/f\d+\.txt)?$/.test(p));
        assert.deepEqual(strays, [], 'only the folder\'s own files');
        for (const [p, e] of tree) if (e.type === 'file') assert.match(e.content ?? '', /^file \d+$/, p);
      }
      t.diagnostic(`${built} of 6 builds completed during the swaps`);
    } finally {
      swapper.kill('SIGKILL');
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
