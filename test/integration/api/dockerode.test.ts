import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { startHarness, type Harness } from './harness';

/** dockerode, an independent client, against the API server with fake backends. */
let h: Harness;
let docker: Docker;
before(async () => {
  h = await startHarness();
  docker = new Docker({ socketPath: h.socketPath });
});
after(async () => {
  await h.stop();
});

test('dockerode: ping, version, list', async () => {
  assert.equal(String(await docker.ping()), 'OK');
  const version = await docker.version();
  assert.equal(version.ApiVersion, '1.45');
  assert.deepEqual(await docker.listContainers({ all: true }), []);
});

test('dockerode: create, hijacked attach, start, wait', async () => {
  const container = await docker.createContainer({ Image: 'busybox', Cmd: ['cat'], OpenStdin: true, StdinOnce: true });
  const stream = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  docker.modem.demuxStream(stream, stdout, stderr);
  const waited = container.wait();
  await container.start();
  stream.end('via dockerode\n');
  const result = (await waited) as { StatusCode: number };
  assert.equal(result.StatusCode, 0);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(Buffer.concat(chunks).toString(), 'via dockerode\n');
  await assert.rejects(docker.getContainer('nope').inspect(), (err: { statusCode?: number }) => err.statusCode === 404);
});

test('dockerode: exec start (hijack) and inspect', async () => {
  const container = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep'] });
  await container.start();
  const exec = await container.exec({ Cmd: ['echo', 'dockerode', 'exec'], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  const err = new PassThrough();
  const outChunks: Buffer[] = [];
  out.on('data', (c: Buffer) => outChunks.push(c));
  docker.modem.demuxStream(stream, out, err);
  await new Promise((r) => stream.on('end', r));
  assert.equal(Buffer.concat(outChunks).toString(), 'dockerode exec\n');
  const info = await exec.inspect();
  assert.equal(info.ExitCode, 3);
});

test('dockerode: plain (non-hijacked) attach reads until the server closes', async () => {
  const container = await docker.createContainer({ Image: 'busybox', Cmd: ['echo', 'plain', 'attach'] });
  const stream = await container.attach({ stream: true, stdout: true, stderr: true });
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  docker.modem.demuxStream(stream, out, new PassThrough());
  const ended = new Promise((r) => stream.on('end', r));
  await container.start();
  await ended;
  assert.equal(Buffer.concat(chunks).toString(), 'plain attach\n');
});
