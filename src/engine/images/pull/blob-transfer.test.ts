import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { chunksOf, TeeSink } from './blob-transfer';

test('chunksOf gives each chunk as written, never joined, even when many wait', async () => {
  const stream = new PassThrough();
  const written = [Buffer.from('a'.repeat(10)), Buffer.from('b'.repeat(20)), Buffer.from('c'.repeat(30))];
  for (const chunk of written) stream.write(chunk);
  stream.end();
  const seen: Buffer[] = [];
  for await (const chunk of chunksOf(stream, 1 << 20)) seen.push(chunk);
  assert.deepEqual(seen, written);
});

test('chunksOf pauses the stream while `pauseAt` bytes wait, and resumes it once they are all taken', async () => {
  const stream = new PassThrough({ highWaterMark: 16 });
  const it = chunksOf(stream, 100)[Symbol.asyncIterator]();
  stream.write(Buffer.alloc(60));
  const first = await it.next();
  assert.equal(first.value?.length, 60);
  stream.write(Buffer.alloc(60));
  stream.write(Buffer.alloc(60));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(stream.isPaused(), true);
  assert.equal((await it.next()).value?.length, 60);
  assert.equal(stream.isPaused(), true, 'still paused while a chunk waits');
  assert.equal((await it.next()).value?.length, 60);
  const third = it.next();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(stream.isPaused(), false);
  stream.end();
  assert.equal((await third).done, true);
});

test('chunksOf delivers what arrived before an error, then throws it; a close before the end is an error', async () => {
  const failing = new PassThrough();
  failing.write(Buffer.from('kept'));
  setImmediate(() => failing.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })));
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const chunk of chunksOf(failing, 1 << 20)) seen.push(chunk.toString());
    })(),
    { code: 'ECONNRESET' },
  );
  assert.deepEqual(seen, ['kept']);

  const closed = new PassThrough();
  setImmediate(() => closed.destroy());
  await assert.rejects(
    (async () => {
      for await (const _ of chunksOf(closed, 1 << 20)) {
        // nothing arrives
      }
    })(),
    { code: 'ERR_STREAM_PREMATURE_CLOSE' },
  );
});

test('leaving chunksOf early destroys the stream', async () => {
  const stream = new PassThrough();
  stream.write(Buffer.from('one'));
  stream.write(Buffer.from('two'));
  for await (const _ of chunksOf(stream, 1 << 20)) break;
  assert.equal(stream.destroyed, true);
});

test('a TeeSink waiting on its consumer again and again leaves no listener behind', async () => {
  const sink = new TeeSink();
  const consumed: Buffer[][] = [];
  const reading = (async () => {
    for await (const batch of sink.stream) {
      consumed.push(batch as Buffer[]);
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  for (let i = 0; i < 50; i++) await sink.write([Buffer.alloc(10, i)]);
  sink.end();
  await reading;
  assert.equal(consumed.length, 50);
  assert.ok(sink.stream.listenerCount('drain') <= 1 && sink.stream.listenerCount('close') <= 2, `drain ${sink.stream.listenerCount('drain')}, close ${sink.stream.listenerCount('close')}`);
});
