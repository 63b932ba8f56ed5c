import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { apiRequest, needsRoot, startTestDaemon } from '../../helpers/test-daemon';
import { berth } from '../../helpers/cli';
import { debianRootfsTar } from '../../helpers/debian-from-host';
import { build, imageTree, makeContext } from './helpers';

const skip = needsRoot() || (existsSync('/usr/bin/dpkg-deb') && existsSync('/usr/bin/dpkg-query') ? false : 'needs dpkg-deb and dpkg-query (a Debian machine)');

/** A flat apt repository (`deb [trusted=yes] <url> ./`) holding one package made with dpkg-deb. */
async function makeRepository(dir: string): Promise<void> {
  const root = path.join(dir, 'pkgroot');
  await fs.mkdir(path.join(root, 'DEBIAN'), { recursive: true });
  await fs.mkdir(path.join(root, 'usr', 'bin'), { recursive: true });
  await fs.writeFile(path.join(root, 'DEBIAN', 'control'), 'Package: berth-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: berth tests <tests@berth.invalid>\nDescription: a package served by the test\n');
  await fs.writeFile(path.join(root, 'usr', 'bin', 'berth-hello'), '#!/bin/sh\necho "hello from the test mirror"\n', { mode: 0o755 });
  const repo = path.join(dir, 'repo');
  await fs.mkdir(repo);
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', root, path.join(repo, 'berth-hello_1.0_all.deb')], { stdio: 'ignore' });
  const deb = await fs.readFile(path.join(repo, 'berth-hello_1.0_all.deb'));
  const sum = (algo: string, data: Buffer | string) => createHash(algo).update(data).digest('hex');
  const packages = `Package: berth-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: berth tests <tests@berth.invalid>\nFilename: ./berth-hello_1.0_all.deb\nSize: ${deb.length}\nMD5sum: ${sum('md5', deb)}\nSHA256: ${sum('sha256', deb)}\nDescription: a package served by the test\n\n`;
  await fs.writeFile(path.join(repo, 'Packages'), packages);
  await fs.writeFile(path.join(repo, 'Release'), `Origin: berth-tests\nLabel: berth-tests\nDate: ${new Date().toUTCString()}\nSHA256:\n ${sum('sha256', packages)} ${Buffer.byteLength(packages)} Packages\n`);
}

/**
 * `RUN apt-get update && apt-get install` in a build, over the build's default network: the
 * apt mirror is an HTTP server in the test daemon's network namespace (listening on all its
 * addresses, so the RUN container reaches it at the default bridge's gateway, the way a build
 * reaches a mirror on the host's network), serving a repository with a package made here. The
 * image is a minimal Debian made from this machine's installed apt/dpkg (debian-from-host.ts),
 * not debootstrap, which needs a mirror and minutes.
 */
test('RUN apt-get update && apt-get install -y over the default network of a build, against an apt mirror', { skip }, async (t) => {
  const daemon = await startTestDaemon();
  t.after(() => daemon.stop());
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'apt-build-'));
  t.after(() => fs.rm(work, { recursive: true, force: true }));

  const rootfs = path.join(work, 'rootfs.tar');
  assert.ok(await debianRootfsTar(rootfs));
  const imported = await berth(daemon.host, ['import', rootfs, 'debian-host:apt'], { timeoutMs: 180_000 });
  assert.equal(imported.code, 0, imported.stderr);
  await makeRepository(work);

  const script = `const http = require('http'), fs = require('fs'), path = require('path');
http.createServer((q, s) => {
  console.log(q.method + ' ' + q.url);
  const file = path.join(${JSON.stringify(path.join(work, 'repo'))}, path.basename(decodeURIComponent(q.url.split('?')[0])));
  fs.readFile(file, (err, data) => { if (err) { s.statusCode = 404; s.end(); } else s.end(data); });
}).listen(0, '0.0.0.0', function () { console.log('port ' + this.address().port); });`;
  const command = daemon.netns!.command(process.execPath, ['-e', script]);
  const server = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(async () => {
    if (server.exitCode === null && server.signalCode === null) {
      const exited = once(server, 'exit');
      server.kill('SIGTERM');
      await exited;
    }
  });
  let log = '';
  server.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  while (!/port (\d+)/.test(log)) await once(server.stdout!, 'data');
  const port = Number(/port (\d+)/.exec(log)![1]);

  const bridge = JSON.parse((await apiRequest(daemon.socket, 'GET', '/networks/bridge')).body) as { IPAM: { Config: Array<{ Gateway: string }> } };
  const gateway = bridge.IPAM.Config[0]!.Gateway;
  const ctx = await makeContext({
    Dockerfile: [
      'FROM debian-host:apt',
      'ARG MIRROR',
      'RUN echo "deb [trusted=yes] $MIRROR ./" > /etc/apt/sources.list && apt-get update && apt-get install -y --no-install-recommends berth-hello && berth-hello > /installed.txt',
      '',
    ].join('\n'),
  });
  t.after(() => fs.rm(ctx, { recursive: true, force: true }));
  const r = await build(daemon, ctx, { tags: ['apt-built:1'], buildArgs: { MIRROR: `http://${gateway}:${port}` } });
  assert.equal(r.error, undefined, `${r.error}\n${r.output}`);
  assert.match(r.output, /Setting up berth-hello \(1\.0\)/);
  assert.equal((await imageTree(daemon, 'apt-built:1', '/installed.txt')).get('installed.txt')?.content, 'hello from the test mirror\n');
  assert.match((await imageTree(daemon, 'apt-built:1', '/var/lib/dpkg/status')).get('status')?.content ?? '', /Package: berth-hello\nStatus: install ok installed/);
  assert.match(log, /GET \/\.\/Packages|GET \/Packages/, 'apt read the index from the mirror');
  assert.match(log, /GET \/(\.\/)?berth-hello_1\.0_all\.deb/, 'and downloaded the package from it');
});
