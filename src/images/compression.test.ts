import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { decompressStream, detectCompression } from './compression';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const data = Buffer.from('hello layer '.repeat(1000));

test('detects compression by magic', () => {
  assert.equal(detectCompression(gzipSync(data)), 'gzip');
  assert.equal(detectCompression(data), 'none');
  assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0])), 'zstd');
  assert.equal(detectCompression(Buffer.alloc(0)), 'none');
});

test('decompresses gzip and passes plain data through, across chunk boundaries', async () => {
  const gz = gzipSync(data);
  const chunks = [gz.subarray(0, 1), gz.subarray(1, 3), gz.subarray(3)];
  const r = await decompressStream(Readable.from(chunks));
  assert.equal(r.compression, 'gzip');
  assert.deepEqual(await readAll(r.stream), data);
  const plain = await decompressStream(Readable.from([data.subarray(0, 2), data.subarray(2)]));
  assert.deepEqual(await readAll(plain.stream), data);
  const empty = await decompressStream(Readable.from([]));
  assert.deepEqual(await readAll(empty.stream), Buffer.alloc(0));
});

test('decompresses zstd through the zstd program', async (t) => {
  const z = spawnSync('zstd', ['-c', '-q'], { input: data });
  if (z.status !== 0) return t.skip('zstd not installed');
  const r = await decompressStream(Readable.from([z.stdout]));
  assert.equal(r.compression, 'zstd');
  assert.deepEqual(await readAll(r.stream), data);
});

test('a corrupt gzip stream errors', async () => {
  const gz = gzipSync(data);
  const bad = Buffer.concat([gz.subarray(0, 20), Buffer.alloc(50, 7)]);
  const r = await decompressStream(Readable.from([bad]));
  await assert.rejects(readAll(r.stream));
});
