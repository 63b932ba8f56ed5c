import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { berth, runCommand } from '../helpers/cli';
import { contextTar } from '../helpers/build-context';
import { pythonDockerSkipReason, runPythonDocker } from '../helpers/python-docker';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';

/**
 * Real clients building through berth's socket with POST /build: the docker CLI 28 (plain,
 * which must pick the classic builder from /_ping's Builder-Version: 1, and with
 * DOCKER_BUILDKIT=0), Debian's docker CLI 20.10, docker-py, and `berth build`; then the bad
 * cases: a Dockerfile syntax error, a failing RUN, the client going away mid-build.
 */
const DOCKER_28 = '/usr/local/bin/docker';
const DOCKER_20 = '/usr/bin/docker';
const skip = needsRoot('needs root (runc, overlay mounts)') || false;

function dockerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { DOCKER_CONFIG: '/nonexistent-docker-config', DOCKER_CLI_HINTS: 'false', ...extra };
}

describe('building through berth\'s socket', { skip }, () => {
  let daemon: TestDaemon;
  let dir: string;
  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'db-ctx-'));
    await fs.writeFile(path.join(dir, 'hello.txt'), 'hello from the context\n');
    await fs.writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nENV GREETING=hi\nCOPY hello.txt /hello.txt\nRUN echo "ran $GREETING" && cat /hello.txt\nCMD ["cat", "/hello.txt"]\n');
  });
  after(async () => {
    await daemon?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const clients: Array<[string, string, NodeJS.ProcessEnv]> = [
    ['docker CLI 28, plain `docker build` (classic builder chosen from /_ping)', DOCKER_28, dockerEnv()],
    ['docker CLI 28 with DOCKER_BUILDKIT=0', DOCKER_28, dockerEnv({ DOCKER_BUILDKIT: '0' })],
    ['docker CLI 20.10', DOCKER_20, dockerEnv()],
  ];
  clients.forEach(([what, client, env], i) => {
    it(what, { skip: !existsSync(client) && `${client} not installed` }, async () => {
      const tag = `dockercli${i}:v1`;
      // --no-cache: every client builds the same Dockerfile, and the RUN must run each time.
      const r = await runCommand(client, ['-H', daemon.host, 'build', '--no-cache', '-t', tag, dir], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Step 1\/5 : FROM busybox\n ---> [0-9a-f]{12}\n/);
      assert.match(r.stdout, /Step 4\/5 : RUN echo "ran \$GREETING" && cat \/hello.txt\n ---> Running in [0-9a-f]{12}\nran hi\nhello from the context\n/);
      const built = /Successfully built ([0-9a-f]{12})\n/.exec(r.stdout);
      assert.ok(built, r.stdout);
      assert.match(r.stdout, new RegExp(`Successfully tagged ${tag}\n`));
      const run = await runCommand(client, ['-H', daemon.host, 'run', '--rm', '--network', 'none', tag], { env });
      assert.equal(run.stdout, 'hello from the context\n', run.stderr);
      const id = await runCommand(client, ['-H', daemon.host, 'image', 'inspect', '--format', '{{.Id}}', tag], { env });
      assert.equal(id.stdout.trim().slice(7, 19), built[1]);
    });
  });

  it('a rebuild with no change is all cache hits and gives the same image', async () => {
    const first = await runCommand(DOCKER_20, ['-H', daemon.host, 'build', '-q', dir], { env: dockerEnv() });
    const again = await runCommand(DOCKER_20, ['-H', daemon.host, 'build', dir], { env: dockerEnv() });
    assert.equal(again.code, 0, again.stderr);
    assert.equal((again.stdout.match(/ ---> Using cache\n/g) ?? []).length, 4, again.stdout);
    assert.match(again.stdout, new RegExp(`Successfully built ${first.stdout.trim().slice(7, 19)}\n`));
  });

  it('docker-py (python3-docker 5) client.images.build', { skip: pythonDockerSkipReason() }, async () => {
    const result = await runPythonDocker<{ id: string; tags: string[]; streams: string }>(
      daemon.host,
      `image, logs = client.images.build(path=${JSON.stringify(dir)}, tag='pybuilt:1', rm=True, nocache=True)\nprint(json.dumps({'id': image.id, 'tags': image.tags, 'streams': ''.join(l.get('stream', '') for l in logs)}))`,
    );
    assert.match(result.id, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(result.tags, ['pybuilt:1']);
    assert.match(result.streams, /Successfully built [0-9a-f]{12}\n/);
  });

  it('berth build', async () => {
    const iid = path.join(dir, '..', `${path.basename(dir)}.iid`);
    const r = await berth(daemon.host, ['build', '--no-cache', '-t', 'berthbuilt:1', '--progress', 'plain', '--iidfile', iid, dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\[1\/5\] FROM busybox {2}\d+\.\d\ds$/m);
    assert.match(r.stdout, /^ran hi\nhello from the context\n\[4\/5\] RUN echo "ran \$GREETING" && cat \/hello.txt {2}\d+\.\d\ds$/m);
    const id = (await fs.readFile(iid, 'utf8')).trim();
    await fs.rm(iid);
    assert.match(r.stdout, new RegExp(`^Built ${id} in \\d+\\.\\d\\ds\nTagged berthbuilt:1$`, 'm'));
  });

  it('a Dockerfile syntax error names the line, with dockerd\'s 400 before any output, and leaves no image', async () => {
    await fs.writeFile(path.join(dir, 'Bad.Dockerfile'), 'FROM busybox\nRUNN echo x\n');
    const r = await runCommand(DOCKER_20, ['-H', daemon.host, 'build', '-t', 'syntaxerr:1', '-f', path.join(dir, 'Bad.Dockerfile'), dir], { env: dockerEnv() });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Error response from daemon: Bad\.Dockerfile:2: unknown instruction: RUNN/);
    const images = await apiRequest(daemon.socket, 'GET', '/images/json?filters=' + encodeURIComponent('{"reference":["syntaxerr"]}'));
    assert.equal(images.body.trim(), '[]');
  });

  it('a failing RUN shows its output and exit code and leaves no image or container', async () => {
    const before = (await apiRequest(daemon.socket, 'GET', '/containers/json?all=1')).body;
    const r = await runCommand(DOCKER_20, ['-H', daemon.host, 'build', '-t', 'runfail:1', '-f', '-', dir], { env: dockerEnv(), input: 'FROM busybox\nRUN echo about-to-fail && exit 7\n' });
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stdout, /about-to-fail\n/);
    assert.match(r.stderr, /The command '\/bin\/sh -c echo about-to-fail && exit 7' returned a non-zero code: 7/);
    assert.equal((await apiRequest(daemon.socket, 'GET', '/images/json?filters=' + encodeURIComponent('{"reference":["runfail"]}'))).body.trim(), '[]');
    assert.equal((await apiRequest(daemon.socket, 'GET', '/containers/json?all=1')).body, before);
  });

  it('the client going away mid-RUN stops the build: no container, image, tag or context folder left', async () => {
    const tar = await contextTar([{ name: 'Dockerfile', content: 'FROM busybox\nRUN echo started && sleep 60\n' }]);
    const containersBefore = (await apiRequest(daemon.socket, 'GET', '/containers/json?all=1')).body;
    const imagesBefore = (await apiRequest(daemon.socket, 'GET', '/images/json?all=1')).body;
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ socketPath: daemon.socket, method: 'POST', path: '/v1.41/build?t=gone:1&nocache=1', headers: { 'Content-Type': 'application/x-tar', 'Content-Length': tar.length } }, (res) => {
        let seen = '';
        res.on('data', (c: Buffer) => {
          seen += c.toString();
          if (seen.includes('{"stream":"started\\n"}')) {
            req.destroy();
            resolve();
          }
        });
        res.on('error', () => undefined);
        res.on('end', () => reject(new Error(`the build ended before the client left: ${seen}`)));
      });
      req.on('error', () => undefined);
      req.end(tar);
    });
    const deadline = Date.now() + 20_000;
    let containers = '';
    while (Date.now() < deadline) {
      containers = (await apiRequest(daemon.socket, 'GET', '/containers/json?all=1')).body;
      const contexts = await fs.readdir(path.join(daemon.dataRoot, 'builder', 'contexts'));
      if (containers === containersBefore && contexts.length === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(containers, containersBefore, 'the RUN container is gone');
    assert.deepEqual(await fs.readdir(path.join(daemon.dataRoot, 'builder', 'contexts')), []);
    assert.equal((await apiRequest(daemon.socket, 'GET', '/images/json?all=1')).body, imagesBefore);
  });
});
