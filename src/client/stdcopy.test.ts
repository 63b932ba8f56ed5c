import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { FrameDemuxer, demuxTo, encodeFrame } from './stdcopy';
import { parseJsonStream } from './json-stream';
import { buildQuery } from './transport';
import { parseHost, resolveHost } from './host';

test('demuxes frames split across chunks', () => {
  const bytes = Buffer.concat([encodeFrame('stdout', 'hello '), encodeFrame('stderr', 'oops'), encodeFrame('stdout', 'world')]);
  const demuxer = new FrameDemuxer();
  const frames = [];
  for (let i = 0; i < bytes.length; i += 3) frames.push(...demuxer.push(bytes.subarray(i, i + 3)));
  assert.deepEqual(frames.map((f) => [f.stream, f.data.toString()]), [['stdout', 'hello '], ['stderr', 'oops'], ['stdout', 'world']]);
  assert.equal(demuxer.leftover, 0);
});

test('demuxTo writes each stream to its target and fails on systemerr', async () => {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(`o:${c}`));
  err.on('data', (c: Buffer) => chunks.push(`e:${c}`));
  async function* source() {
    yield encodeFrame('stdout', 'a');
    yield encodeFrame('stderr', 'b');
  }
  await demuxTo(source(), { stdout: out, stderr: err });
  assert.deepEqual(chunks, ['o:a', 'e:b']);
  async function* bad() {
    yield encodeFrame('systemerr', 'boom');
  }
  await assert.rejects(demuxTo(bad(), { stdout: out, stderr: err }), /boom/);
  assert.throws(() => new FrameDemuxer().push(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0])), /unrecognized input header/);
});

test('JSON message streams across chunk boundaries', async () => {
  async function* source() {
    yield '{"status":"a"}\n{"sta';
    yield 'tus":"b"}\r\n';
    yield '{"error":"c"}';
  }
  const messages = [];
  for await (const m of parseJsonStream(source())) messages.push(m);
  assert.deepEqual(messages, [{ status: 'a' }, { status: 'b' }, { error: 'c' }]);
});

test('query strings and host resolution', () => {
  assert.equal(buildQuery({ all: true, limit: 3, x: undefined, names: ['a', 'b'], f: false }), '?all=1&limit=3&names=a&names=b&f=0');
  assert.equal(buildQuery({}), '');
  assert.deepEqual(parseHost('unix:///tmp/x.sock'), { kind: 'unix', url: 'unix:///tmp/x.sock', socketPath: '/tmp/x.sock' });
  assert.equal(parseHost('tcp://127.0.0.1:2375').kind, 'tcp');
  assert.equal(resolveHost({ env: {} }).url, 'unix:///run/berth/berth.sock');
  assert.equal(resolveHost({ env: { DOCKER_HOST: 'unix:///d.sock', BERTH_HOST: 'unix:///b.sock' } }).url, 'unix:///b.sock');
  assert.equal(resolveHost({ flag: 'unix:///f.sock', env: { BERTH_HOST: 'unix:///b.sock' } }).url, 'unix:///f.sock');
  assert.throws(() => parseHost('ssh://x'), /unsupported host/);
});
