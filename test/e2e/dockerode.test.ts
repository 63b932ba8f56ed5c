import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import Docker from 'dockerode';
import { bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { legacyArchive } from '../helpers/legacy-archive';

const skip = needsRoot('needs root (runc, overlay mounts)');

/** dockerode, an independent client library, against a real berthd running real containers. */
describe('dockerode against berthd', { skip }, () => {
  let daemon: TestDaemon;
  let docker: Docker;

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
    docker = new Docker({ socketPath: daemon.socket });
  });
  after(async () => {
    await daemon?.stop();
  });

  it('pings and reports a version', async () => {
    assert.equal(String(await docker.ping()), 'OK');
    const version = await docker.version();
    assert.match(version.ApiVersion, /^1\.\d+$/);
  });

  it('creates, attaches (demultiplexed), starts and waits; then logs', async () => {
    const container = await docker.createContainer({
      Image: 'busybox',
      Cmd: ['sh', '-c', 'read line; echo "out:$line"; echo "err:$line" >&2; exit 3'],
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
    const stdout = collect();
    const stderr = collect();
    docker.modem.demuxStream(stream, stdout.sink, stderr.sink);
    const ended = new Promise<void>((resolve) => stream.once('end', () => resolve()));
    // Docker's default condition (not-running) is met at once by a created container.
    const waited = container.wait({ condition: 'next-exit' }) as Promise<{ StatusCode: number }>;
    await container.start();
    stream.write('hi\n');
    assert.equal((await waited).StatusCode, 3);
    await ended;
    assert.equal(stdout.text(), 'out:hi\n');
    assert.equal(stderr.text(), 'err:hi\n');

    const logs = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    const out = collect();
    const err = collect();
    docker.modem.demuxStream(Readable.from([logs]), out.sink, err.sink);
    await new Promise((r) => setImmediate(r));
    assert.equal(out.text(), 'out:hi\n');
    assert.equal(err.text(), 'err:hi\n');
    const info = await container.inspect();
    assert.equal(info.State.ExitCode, 3);
    await container.remove();
  });

  it('runs execs and reports their exit codes; lists containers', async () => {
    const container = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '1000'], name: 'ode-exec' });
    await container.start();
    const exec = await container.exec({ Cmd: ['sh', '-c', 'echo in-exec; exit 9'], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const out = collect();
    docker.modem.demuxStream(stream, out.sink, collect().sink);
    await new Promise<void>((resolve) => stream.once('end', () => resolve()));
    assert.equal(out.text(), 'in-exec\n');
    const execInfo = await waitForExec(exec);
    assert.equal(execInfo.ExitCode, 9);
    assert.equal(execInfo.Running, false);

    const running = await docker.listContainers();
    assert.deepEqual(running.map((c) => c.Names), [['/ode-exec']]);
    assert.equal(running[0]!.State, 'running');
    const all = await docker.listContainers({ all: true, filters: { name: ['ode-exec'] } });
    assert.equal(all.length, 1);
    await container.remove({ force: true });
    assert.deepEqual(await docker.listContainers({ all: true }), []);
  });

  it('lists and inspects images, saves one and loads it back', async () => {
    const images = await docker.listImages();
    const busybox = images.find((i) => i.RepoTags?.includes('busybox:latest'));
    assert.ok(busybox, 'busybox is listed');
    const inspected = await docker.getImage('busybox').inspect();
    assert.equal(inspected.Id, busybox.Id);
    assert.deepEqual(inspected.Config.Cmd, ['sh']);

    const saved = await docker.getImage('busybox').get();
    const chunks: Buffer[] = [];
    for await (const c of saved as AsyncIterable<Buffer>) chunks.push(c);
    const archive = Buffer.concat(chunks);
    assert.ok(archive.length > 100_000);

    await docker.getImage('busybox').remove();
    await assert.rejects(docker.getImage('busybox').inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
    const loadStream = await docker.loadImage(Readable.from([archive]));
    const loadOutput: Buffer[] = [];
    for await (const c of loadStream as AsyncIterable<Buffer>) loadOutput.push(c);
    assert.match(Buffer.concat(loadOutput).toString(), /Loaded image: busybox:latest/);
    assert.equal((await docker.getImage('busybox').inspect()).Id, busybox.Id);
  });

  it('loadImage takes a pre-1.10 save tar (the layout of its own test-load.tar fixture), and refuses a malformed one with a 400', async () => {
    const legacy = await legacyArchive({ repository: 'dockerode-legacy', tag: 'old' });
    const loadStream = await docker.loadImage(Readable.from([legacy.tar]));
    const out: Buffer[] = [];
    for await (const c of loadStream as AsyncIterable<Buffer>) out.push(c);
    assert.match(Buffer.concat(out).toString(), /Loaded image: dockerode-legacy:old/);
    const image = docker.getImage('dockerode-legacy:old');
    const inspected = await image.inspect();
    assert.deepEqual(inspected.Config.Cmd, ['cat', '/etc/legacy']);
    assert.equal(inspected.RootFS.Layers?.length, 2);
    assert.equal(inspected.Comment, 'second layer');
    const history = await image.history();
    assert.deepEqual(
      history.map((h: { CreatedBy: string }) => h.CreatedBy),
      ["/bin/sh -c echo 'from a legacy archive' > /etc/legacy && true", '/bin/sh -c #(nop) ADD file:busybox in /'],
    );
    const container = await docker.createContainer({ Image: 'dockerode-legacy:old' });
    await container.start();
    assert.equal((await container.wait()).StatusCode, 0);
    const logs = (await container.logs({ stdout: true })) as unknown as Buffer;
    assert.match(logs.toString(), /from a legacy archive/);
    await container.remove();
    await image.remove();

    const before = (await docker.listImages({ all: true })).length;
    const broken = await legacyArchive({ repository: 'dockerode-broken', override: ({ baseId }) => ({ [`${baseId}/layer.tar`]: null }) });
    await assert.rejects(
      (async () => {
        const stream = await docker.loadImage(Readable.from([broken.tar]));
        for await (const _ of stream as AsyncIterable<Buffer>) void _;
      })(),
      (err: Error & { statusCode?: number }) => {
        assert.equal(err.statusCode, 400);
        // dockerode does not parse a streaming call's error body; the message carries it.
        assert.match(err.message, /^\(HTTP code 400\) unexpected - invalid archive: [a-f0-9]{64}\/layer.tar is missing\s*$/);
        return true;
      },
    );
    assert.equal((await docker.listImages({ all: true })).length, before, 'nothing of it is left');
  });
});

function collect(): { sink: PassThrough; text(): string } {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  return { sink, text: () => Buffer.concat(chunks).toString() };
}

async function waitForExec(exec: Docker.Exec): Promise<Docker.ExecInspectInfo> {
  for (let i = 0; i < 50; i++) {
    const info = await exec.inspect();
    if (!info.Running) return info;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('exec did not finish');
}
