import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../../helpers/test-daemon';
import { berth } from '../../helpers/cli';
import { contextTar, postBuild } from '../../helpers/build-context';
import { build, history, imageTree, inspectImage, makeContext } from './helpers';

/**
 * A listener on 127.0.0.1 inside the daemon's own network namespace: only a RUN on the host
 * network (the daemon's namespace) can reach it; the default bridge's loopback is the
 * container's own. It answers every request with `token`.
 */
async function listenInDaemonNetns(daemon: TestDaemon, token: string): Promise<{ port: number; close(): Promise<void> }> {
  const script = `require('http').createServer((q, s) => s.end(${JSON.stringify(token)})).listen(0, '127.0.0.1', function () { console.log(this.address().port); })`;
  const command = daemon.netns!.command(process.execPath, ['-e', script]);
  const child: ChildProcess = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const [first] = (await once(child.stdout!, 'data')) as [Buffer];
  return {
    port: Number(first.toString().trim()),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

test('RUN on the host network reaches the daemon\'s loopback; proxy args reach RUN without ARG and stay out of the image; ADD --chown/--chmod', { skip: needsRoot() }, async (t) => {
  const daemon = await startTestDaemon();
  t.after(() => daemon.stop());
  await bootstrapBusybox(daemon);
  const token = `host-net-${randomBytes(6).toString('hex')}`;
  const server = await listenInDaemonNetns(daemon, token);
  t.after(() => server.close());
  // nc, not wget: the bootstrapped busybox's wget crashes (SIGSEGV) on any URL.
  const fetchLine = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 ${server.port} > /fetched`;
  const fetched = async (image: string): Promise<string> => ((await imageTree(daemon, image, '/fetched')).get('fetched')?.content ?? '').split('\r\n\r\n')[1] ?? '';

  await t.test('RUN --network=host sees the daemon\'s namespace; the default network does not', async () => {
    const ctx = await makeContext({ Dockerfile: `FROM busybox\nRUN --network=host ${fetchLine}\n` });
    t.after(() => fs.rm(ctx, { recursive: true, force: true }));
    const r = await build(daemon, ctx, { tags: ['hostnet:flag'] });
    assert.equal(r.error, undefined, r.error);
    assert.equal(await fetched('hostnet:flag'), token);

    const bridged = await makeContext({ Dockerfile: `FROM busybox\nRUN ${fetchLine}\n` });
    t.after(() => fs.rm(bridged, { recursive: true, force: true }));
    const refused = await build(daemon, bridged, { tags: ['hostnet:bridge'] });
    assert.match(refused.error ?? '', /returned a non-zero code: 1/, 'the default network\'s 127.0.0.1 is the container\'s own');
  });

  await t.test('berth build --network host applies to every RUN', async () => {
    const ctx = await makeContext({ Dockerfile: `FROM busybox\nRUN ${fetchLine}\n` });
    t.after(() => fs.rm(ctx, { recursive: true, force: true }));
    const r = await berth(daemon.host, ['build', '-q', '-t', 'hostnet:cli', '--network', 'host', ctx]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await fetched('hostnet:cli'), token);
    const bridged = await berth(daemon.host, ['build', '-q', '-t', 'hostnet:cli-bridge', '--no-cache', ctx]);
    assert.equal(bridged.code, 1, 'without --network host the same RUN fails');
  });

  await t.test('POST /build networkmode=host', async () => {
    const tar = await contextTar([{ name: 'Dockerfile', content: `FROM busybox\nRUN ${fetchLine}\n` }]);
    const res = await postBuild(daemon.socket, 't=hostnet:api&networkmode=host', tar);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.messages.find((m) => m.errorDetail !== undefined), undefined, res.body);
    assert.equal(await fetched('hostnet:api'), token);
    const bridged = await postBuild(daemon.socket, 't=hostnet:api-bridge&nocache=1', tar);
    assert.ok(bridged.messages.some((m) => m.errorDetail !== undefined), 'the default network cannot reach it');
  });

  await t.test('predefined proxy args: seen by RUN without ARG, shown in history only once declared, never in the config', async () => {
    // dockerd 20.10 gives, for these build args: `|0 /bin/sh -c …` for the first RUN (moby's
    // prependEnvOnCmd keeps only referenced or non-builtin args), `|1 HTTPS_PROXY=… /bin/sh -c …`
    // after `ARG HTTPS_PROXY`, and Env with PATH only (checked with a private dockerd).
    const ctx = await makeContext({
      Dockerfile: [
        'FROM busybox',
        'RUN echo "$HTTP_PROXY $http_proxy $HTTPS_PROXY $https_proxy $FTP_PROXY $ftp_proxy $NO_PROXY $no_proxy" > /proxies',
        'ARG HTTPS_PROXY',
        'RUN echo "declared $HTTPS_PROXY" > /declared',
        '',
      ].join('\n'),
    });
    t.after(() => fs.rm(ctx, { recursive: true, force: true }));
    const given: Record<string, string> = {
      HTTP_PROXY: 'http://H:1', http_proxy: 'http://h:2', HTTPS_PROXY: 'http://S:3', https_proxy: 'http://s:4',
      FTP_PROXY: 'ftp://F:5', ftp_proxy: 'ftp://f:6', NO_PROXY: 'no.upper', no_proxy: 'no.lower',
    };
    const args = Object.entries(given).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]);
    const r = await berth(daemon.host, ['build', '-q', '-t', 'proxies:1', ...args, ctx]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /not consumed/, 'predefined args are never "not consumed"');
    assert.equal((await imageTree(daemon, 'proxies:1', '/proxies')).get('proxies')?.content, 'http://H:1 http://h:2 http://S:3 http://s:4 ftp://F:5 ftp://f:6 no.upper no.lower\n');
    assert.equal((await imageTree(daemon, 'proxies:1', '/declared')).get('declared')?.content, 'declared http://S:3\n');
    const shown = (await history(daemon, 'proxies:1')).map((h) => h.CreatedBy as string);
    assert.equal(shown[0], '|1 HTTPS_PROXY=http://S:3 /bin/sh -c echo "declared $HTTPS_PROXY" > /declared');
    assert.equal(shown[2], '|0 /bin/sh -c echo "$HTTP_PROXY $http_proxy $HTTPS_PROXY $https_proxy $FTP_PROXY $ftp_proxy $NO_PROXY $no_proxy" > /proxies');
    const image = await inspectImage(daemon, 'proxies:1');
    const everything = JSON.stringify({ config: image.Config, history: shown.slice(1) });
    for (const value of Object.values(given).filter((v) => v !== 'http://S:3')) assert.ok(!everything.includes(value), `${value} is not in the config or the history`);
    assert.deepEqual(image.Config.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    // Without proxy args the same RUN has no `|0`, as dockerd's.
    const plain = await berth(daemon.host, ['build', '-q', '-t', 'proxies:2', ctx]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal((await history(daemon, 'proxies:2'))[2]!.CreatedBy, '/bin/sh -c echo "$HTTP_PROXY $http_proxy $HTTPS_PROXY $https_proxy $FTP_PROXY $ftp_proxy $NO_PROXY $no_proxy" > /proxies');
  });

  await t.test('ADD --chown and --chmod on a local file, a folder and a local tar', async () => {
    const ctx = await makeContext({
      Dockerfile: [
        'FROM busybox',
        'ADD --chown=11:22 f.txt /own/f.txt',
        'ADD --chown=11:22 dir /own/dir/',
        'ADD --chown=11:22 bundle.tar /own/tar/',
        'ADD --chmod=640 f.txt /mode/f.txt',
        'ADD --chmod=750 dir /mode/dir/',
        'ADD --chmod=600 bundle.tar /mode/tar/',
        'ADD --chown=33:44 --chmod=604 f.txt /both/f.txt',
        '',
      ].join('\n'),
      'f.txt': { content: 'hello\n', mode: 0o644 },
      'dir/a': { content: 'a\n', mode: 0o644 },
      'dir/sub/b': { content: 'b\n', mode: 0o755 },
      'src/in.txt': { content: 'tt\n', mode: 0o664 },
    });
    t.after(() => fs.rm(ctx, { recursive: true, force: true }));
    execFileSync('tar', ['-cf', path.join(ctx, 'bundle.tar'), '--owner=1234', '--group=4321', '--numeric-owner', '-C', path.join(ctx, 'src'), 'in.txt']);
    const r = await build(daemon, ctx, { tags: ['add-attrs:1'] });
    assert.equal(r.error, undefined, r.error);
    const tree = new Map([...(await imageTree(daemon, 'add-attrs:1', '/'))].map(([p, e]) => [p.replace(/^(\.?\/)+/, ''), e]));
    const attrs = (p: string): string => {
      const e = tree.get(p);
      return e ? `${e.uid}:${e.gid} ${e.mode.toString(8).padStart(4, '0')}` : 'missing';
    };
    // --chown, as dockerd 20.10's classic builder gives (checked with a private dockerd): a file and a
    // folder's content (and the folder ADD makes) take the owner; a tar's entries keep the tar's owners
    // (moby's UntarPath), the folder it is extracted into is made by root.
    assert.equal(attrs('own/f.txt'), '11:22 0644');
    assert.equal(attrs('own/dir'), '11:22 0755');
    assert.equal(attrs('own/dir/a'), '11:22 0644');
    assert.equal(attrs('own/dir/sub'), '11:22 0755');
    assert.equal(attrs('own/dir/sub/b'), '11:22 0755');
    assert.equal(attrs('own/tar'), '0:0 0755');
    assert.equal(attrs('own/tar/in.txt'), '1234:4321 0664');
    // --chmod (BuildKit's; dockerd 20.10's classic builder refuses it): every file and folder it
    // copies takes the mode; a tar is extracted with the modes it holds.
    assert.equal(attrs('mode/f.txt'), '0:0 0640');
    assert.equal(attrs('mode/dir'), '0:0 0750');
    assert.equal(attrs('mode/dir/a'), '0:0 0750');
    assert.equal(attrs('mode/dir/sub'), '0:0 0750');
    assert.equal(attrs('mode/dir/sub/b'), '0:0 0750');
    assert.equal(attrs('mode/tar/in.txt'), '1234:4321 0664');
    assert.equal(attrs('both/f.txt'), '33:44 0604');
    assert.equal(tree.get('own/tar/in.txt')?.content, 'tt\n');
  });
});
