import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { berth, docker } from '../helpers/cli';
import { DOCKER_20, startDockerdWithBusybox } from '../helpers/dockerd-busybox';
import { privateDockerdSkipReason, type PrivateDockerd } from '../helpers/private-dockerd';
import { needsRoot } from '../helpers/test-daemon';

/**
 * `berth build` as a client: it packs the context with the ignore files applied, sends it to
 * POST /build and draws the stream. Run against a private dockerd (the reference classic
 * builder), so what the CLI sends is checked by the builder docker ships.
 */
const skip = needsRoot('needs root') || privateDockerdSkipReason() || false;

describe('berth build against dockerd\'s classic builder', { skip }, () => {
  let dockerd: PrivateDockerd;
  let dir: string;
  before(async () => {
    dockerd = await startDockerdWithBusybox();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bb-ctx-'));
    await fs.mkdir(path.join(dir, 'ctx', 'sub', 'keep'), { recursive: true });
    await fs.writeFile(path.join(dir, 'ctx', 'a.txt'), 'A\n');
    await fs.writeFile(path.join(dir, 'ctx', 'secret.key'), 'no\n');
    await fs.writeFile(path.join(dir, 'ctx', 'sub', 'x.log'), 'no\n');
    await fs.writeFile(path.join(dir, 'ctx', 'sub', 'keep', 'y.log'), 'yes\n');
    await fs.writeFile(path.join(dir, 'ctx', '.dockerignore'), '*.key\n**/*.log\n!sub/keep/*.log\n');
    await fs.writeFile(path.join(dir, 'ctx', 'Dockerfile'), 'FROM busybox\nARG V=none\nCOPY . /c\nRUN echo "v=$V" && find /c -type f | sort\nLABEL from=dockerfile\n');
  });
  after(async () => {
    await dockerd?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('builds, tags, writes --iidfile, draws one line per step and the RUN output; .dockerignore applied with exceptions', async () => {
    const iid = path.join(dir, 'iid');
    const r = await berth(dockerd.host, ['build', '-t', 'app:1', '--build-arg', 'V=42', '--label', 'k=v', '--iidfile', iid, '--progress', 'plain', path.join(dir, 'ctx')]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    // dockerd adds the --label values as a last LABEL step: 6 steps.
    assert.match(lines[0]!, /^\[1\/6\] FROM busybox {2}\d+\.\d\ds$/);
    assert.ok(lines.includes('v=42'), r.stdout);
    assert.ok(lines.includes('/c/a.txt') && lines.includes('/c/sub/keep/y.log') && lines.includes('/c/Dockerfile') && lines.includes('/c/.dockerignore'), r.stdout);
    assert.ok(!r.stdout.includes('secret.key') && !r.stdout.includes('x.log'), r.stdout);
    assert.ok(lines.some((l) => /^\[4\/6\] RUN echo "v=\$V" && find \/c -type f \| sort {2}\d+\.\d\ds$/.test(l)), r.stdout);
    const id = (await fs.readFile(iid, 'utf8')).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.ok(lines.includes(`Tagged app:1`), r.stdout);
    assert.match(r.stdout, new RegExp(`^Built ${id} in \\d+\\.\\d\\ds$`, 'm'));
    const inspect = await docker(DOCKER_20, dockerd.host, ['image', 'inspect', '--format', '{{json .Config.Labels}} {{.Id}}', 'app:1']);
    assert.equal(inspect.stdout.trim(), `{"from":"dockerfile","k":"v"} ${id}`);

    // Unchanged: every step after FROM comes from the cache, and the image is the same.
    const again = await berth(dockerd.host, ['build', '-q', '--build-arg', 'V=42', '--label', 'k=v', path.join(dir, 'ctx')]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `${id}\n`);
    const cached = await berth(dockerd.host, ['build', '--progress', 'plain', '--build-arg', 'V=42', '--label', 'k=v', path.join(dir, 'ctx')]);
    assert.deepEqual(cached.stdout.split('\n').filter((l) => l.startsWith('[')).map((l) => l.endsWith('  CACHED')), [false, true, true, true, true, true]);
  });

  it('-f outside the context and -f - travel in the tar under a random name that COPY . never sees', async () => {
    const outside = path.join(dir, 'Other.Dockerfile');
    await fs.writeFile(outside, 'FROM busybox\nCOPY . /c\nRUN ls -A /c\n');
    for (const [args, input] of [[['-f', outside], undefined], [['-f', '-'], 'FROM busybox\nCOPY . /c\nRUN ls -A /c\n']] as const) {
      const r = await berth(dockerd.host, ['build', '--no-cache', '--progress', 'plain', ...args, path.join(dir, 'ctx')], { input });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.includes('\n.dockerignore\nDockerfile\na.txt\nsub\n'), r.stdout);
      assert.ok(!r.stdout.includes('.dockerfile.'), r.stdout);
    }
  });

  it('a context from stdin: a tar as is, or a Dockerfile alone', async () => {
    const dockerfileOnly = await berth(dockerd.host, ['build', '--progress', 'plain', '-'], { input: 'FROM busybox\nRUN echo stdin-dockerfile\n' });
    assert.equal(dockerfileOnly.code, 0, dockerfileOnly.stderr);
    assert.ok(dockerfileOnly.stdout.includes('\nstdin-dockerfile\n'), dockerfileOnly.stdout);
  });

  it('a failing RUN exits with its code, shows its output and dockerd\'s message', async () => {
    const r = await berth(dockerd.host, ['build', '--progress', 'plain', '-f', '-', path.join(dir, 'ctx')], { input: 'FROM busybox\nRUN echo before-failing; exit 3\n' });
    assert.equal(r.code, 3);
    assert.ok(r.stdout.includes('[2/2] RUN echo before-failing; exit 3\nbefore-failing\n'), r.stdout);
    assert.match(r.stderr, /The command '\/bin\/sh -c echo before-failing; exit 3' returned a non-zero code: 3/);
  });

  it('bad flags and a missing context are refused before anything is sent', async () => {
    const missing = await berth(dockerd.host, ['build', path.join(dir, 'nope')]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /unable to prepare context: path ".*nope" not found/);
    const progress = await berth(dockerd.host, ['build', '--progress', 'fancy', path.join(dir, 'ctx')]);
    assert.match(progress.stderr, /invalid --progress "fancy"/);
    const secret = await berth(dockerd.host, ['build', '--secret', 'id=x', path.join(dir, 'ctx')]);
    assert.match(secret.stderr, /--secret id=x: src= is required/);
  });
});
