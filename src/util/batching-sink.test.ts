import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { batchingSink } from './batching-sink';

/** A write that takes a while, so chunks pile up behind it; records what each call got. */
function slowWrites(calls: Buffer[][]): (chunks: Buffer[]) => Promise<void> {
  return (chunks) =>
    new Promise((resolve) => {
      calls.push(chunks);
      setTimeout(resolve, 20);
    });
}

test('chunks that arrive while a write is in flight go to the next write together, in order', async () => {
  const calls: Buffer[][] = [];
  const chunks = Array.from({ length: 50 }, (_, i) => Buffer.from(`chunk ${i};`));
  await pipeline(Readable.from(chunks, { objectMode: false }), batchingSink(slowWrites(calls)));
  assert.ok(calls.length < chunks.length / 2, `${calls.length} writes for ${chunks.length} chunks: not batched`);
  assert.deepEqual(Buffer.concat(calls.flat()), Buffer.concat(chunks));
});

test('the source is paused once highWaterMark bytes wait', async () => {
  const calls: Buffer[][] = [];
  const chunks = Array.from({ length: 40 }, () => Buffer.alloc(1000, 1));
  await pipeline(Readable.from(chunks), batchingSink(slowWrites(calls), { highWaterMark: 4000 }));
  for (const call of calls) assert.ok(call.reduce((n, c) => n + c.length, 0) <= 5000, 'a batch holds at most highWaterMark bytes and one chunk');
  assert.equal(calls.flat().length, 40);
});

test('a chunk that check() refuses fails the pipeline after the chunks before it were written', async () => {
  const calls: Buffer[][] = [];
  let seen = 0;
  const check = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > 25) throw new Error('over the limit');
  };
  const chunks = Array.from({ length: 10 }, (_, i) => Buffer.from(`${i}`.repeat(5)));
  await assert.rejects(pipeline(Readable.from(chunks), batchingSink(slowWrites(calls), { check })), /over the limit/);
  assert.equal(Buffer.concat(calls.flat()).toString(), '0000011111222223333344444');
});

test('a failed write fails the pipeline', async () => {
  const sink = batchingSink(() => Promise.reject(new Error('disk full')));
  await assert.rejects(pipeline(Readable.from([Buffer.from('x')]), sink), /disk full/);
});
