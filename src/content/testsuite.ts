import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import type { ContentStore } from './types';
import { LABEL_GC_REF_CONTENT_PREFIX, MAX_LABEL_SIZE } from './types';
import { digestOf } from '../util/digest';
import { errorKind } from '../errors';

export interface ContentStoreFixture {
  store: ContentStore;
  cleanup(): Promise<void>;
  /** A new store instance on the same data, as after a daemon restart (`store` is then replaced). */
  reopen(): Promise<ContentStore>;
  /** Flips bytes of a named ingest's partial data behind the store's back (a torn or damaged disk write). */
  corruptIngest(ref: string): Promise<void>;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The conformance suite every ContentStore implementation must pass (containerd's
 * content/testsuite in spirit). `factory` returns a fresh, empty store.
 */
export function runContentStoreSuite(name: string, factory: () => Promise<ContentStoreFixture>): void {
  describe(`ContentStore conformance: ${name}`, () => {
    let fx: ContentStoreFixture;
    before(async () => {
      fx = await factory();
    });
    after(async () => {
      await fx.cleanup();
    });

    it('ingests a buffer and reads it back', async () => {
      const data = Buffer.from('hello content');
      const info = await fx.store.ingest(data);
      assert.equal(info.digest, digestOf(data));
      assert.equal(info.size, data.length);
      assert.ok(await fx.store.has(info.digest));
      assert.deepEqual(await fx.store.readBlob(info.digest), data);
      assert.deepEqual(await readAll(fx.store.createReadStream(info.digest)), data);
      assert.deepEqual(await readAll(fx.store.createReadStream(info.digest, { verify: true })), data);
      const again = await fx.store.info(info.digest);
      assert.equal(again.size, data.length);
      assert.ok(again.createdAt > 0);
    });

    it('ingests a stream in chunks', async () => {
      const parts = Array.from({ length: 50 }, (_, i) => Buffer.alloc(10_000, i));
      const info = await fx.store.ingest(Readable.from(parts), { digest: digestOf(Buffer.concat(parts)), size: 500_000 });
      assert.equal(info.size, 500_000);
    });

    it('rejects a digest mismatch and leaves nothing visible', async () => {
      const data = Buffer.from('mismatch');
      const wrong = digestOf('something else');
      await assert.rejects(fx.store.ingest(data, { digest: wrong }), (err: unknown) => errorKind(err) === 'InvalidArgument');
      assert.equal(await fx.store.has(wrong), false);
      assert.equal(await fx.store.has(digestOf(data)), false);
    });

    it('rejects a size mismatch', async () => {
      const data = Buffer.from('sized');
      await assert.rejects(fx.store.ingest(data, { size: 3 }), (err: unknown) => errorKind(err) === 'InvalidArgument');
      assert.equal(await fx.store.has(digestOf(data)), false);
    });

    it('keeps content invisible until commit, and abort discards it', async () => {
      const data = Buffer.from('pending write');
      const w = await fx.store.writer();
      await w.write(data);
      assert.equal(await fx.store.has(digestOf(data)), false);
      await w.abort();
      assert.equal(await fx.store.has(digestOf(data)), false);
    });

    it('committing existing content succeeds', async () => {
      const data = Buffer.from('twice');
      const a = await fx.store.ingest(data);
      const b = await fx.store.ingest(data);
      assert.equal(a.digest, b.digest);
    });

    it('a failing source stream aborts the write', async () => {
      const source = new Readable({
        read() {
          this.push(Buffer.from('partial'));
          this.destroy(new Error('boom'));
        },
      });
      await assert.rejects(fx.store.ingest(source), /boom/);
      assert.equal(await fx.store.has(digestOf('partial')), false);
    });

    it('reports NotFound for absent blobs', async () => {
      const absent = digestOf('never written');
      assert.equal(await fx.store.has(absent), false);
      await assert.rejects(fx.store.info(absent), (err: unknown) => errorKind(err) === 'NotFound');
      await assert.rejects(fx.store.readBlob(absent), (err: unknown) => errorKind(err) === 'NotFound');
      await assert.rejects(readAll(fx.store.createReadStream(absent)), (err: unknown) => errorKind(err) === 'NotFound');
    });

    it('lists and deletes (idempotently)', async () => {
      const data = Buffer.from('to delete');
      const info = await fx.store.ingest(data);
      assert.ok((await fx.store.list()).some((b) => b.digest === info.digest));
      await fx.store.delete(info.digest);
      await fx.store.delete(info.digest);
      assert.equal(await fx.store.has(info.digest), false);
      assert.ok(!(await fx.store.list()).some((b) => b.digest === info.digest));
    });

    it('a verifying read fails on corruption and names the digest', async () => {
      const data = Buffer.from('will be corrupted');
      const info = await fx.store.ingest(data);
      const file = fx.store.blobPath(info.digest);
      await fs.chmod(file, 0o644);
      await fs.writeFile(file, 'tampered!');
      await assert.rejects(readAll(fx.store.createReadStream(info.digest, { verify: true })), (err: unknown) => {
        assert.ok(err instanceof Error && err.message.includes(info.digest), String(err));
        return true;
      });
    });

    // ---- named ingests -----------------------------------------------------------------

    it('a named ingest is closed, listed, resumed at its offset and committed', async () => {
      const data = Buffer.from('0123456789abcdefghij');
      const ref = 'upload-resume-in-process';
      const before = Date.now();
      const w1 = await fx.store.writer({ ref, total: data.length, expected: digestOf(data) });
      await w1.write(data.subarray(0, 8));
      assert.equal(w1.status().offset, 8);
      await w1.close();
      const status = await fx.store.status(ref);
      assert.equal(status.ref, ref);
      assert.equal(status.offset, 8);
      assert.equal(status.total, data.length);
      assert.equal(status.expected, digestOf(data));
      assert.ok(status.startedAt >= before - 1000 && status.updatedAt >= status.startedAt);
      assert.ok((await fx.store.listIngests('upload-')).some((s) => s.ref === ref));
      assert.ok(!(await fx.store.listIngests('other-')).some((s) => s.ref === ref));
      assert.equal(await fx.store.has(digestOf(data)), false, 'nothing visible before commit');

      const w2 = await fx.store.writer({ ref });
      assert.equal(w2.status().offset, 8);
      assert.equal(w2.status().startedAt, status.startedAt);
      await w2.write(data.subarray(8));
      const info = await w2.commit();
      assert.equal(info.digest, digestOf(data));
      assert.deepEqual(await fx.store.readBlob(info.digest), data);
      await assert.rejects(fx.store.status(ref), (err: unknown) => errorKind(err) === 'NotFound');
      assert.ok(!(await fx.store.listIngests()).some((s) => s.ref === ref));
    });

    it('one writer holds a ref at a time', async () => {
      const ref = 'held-ref';
      const w = await fx.store.writer({ ref });
      await assert.rejects(fx.store.writer({ ref }), (err: unknown) => errorKind(err) === 'Unavailable' && /held-ref locked/.test(String(err)));
      await assert.rejects(fx.store.abortIngest(ref), (err: unknown) => errorKind(err) === 'Unavailable');
      await w.close();
      const again = await fx.store.writer({ ref });
      await again.abort();
      await assert.rejects(fx.store.status(ref), (err: unknown) => errorKind(err) === 'NotFound');
    });

    it('an ingest resumes after a restart of the store, its data and start time intact', async () => {
      const data = Buffer.concat(Array.from({ length: 40 }, (_, i) => Buffer.alloc(4096, i)));
      const ref = 'resume-after-restart';
      const w = await fx.store.writer({ ref, total: data.length });
      await w.write(data.subarray(0, 100_000));
      const startedAt = w.status().startedAt;
      await w.close();
      const anonymous = await fx.store.writer();
      await anonymous.write(Buffer.from('anonymous, lost in the restart'));

      fx.store = await fx.reopen();
      const status = await fx.store.status(ref);
      assert.equal(status.offset, 100_000);
      assert.equal(status.startedAt, startedAt);
      assert.equal(status.total, data.length);
      assert.deepEqual((await fx.store.listIngests()).map((s) => s.ref).filter((r) => r === ref), [ref]);
      const resumed = await fx.store.writer({ ref });
      assert.equal(resumed.status().offset, 100_000);
      await resumed.write(data.subarray(100_000));
      const info = await resumed.commit({ digest: digestOf(data) });
      assert.equal(info.size, data.length);
      assert.deepEqual(await fx.store.readBlob(info.digest), data);
      assert.equal(await fx.store.has(digestOf('anonymous, lost in the restart')), false);
    });

    it('resumed data that was damaged on disk is refused at commit, and the ingest is gone', async () => {
      const data = Buffer.from('some bytes that will be damaged on disk, then completed');
      const ref = 'damaged-after-restart';
      const w = await fx.store.writer({ ref, expected: digestOf(data) });
      await w.write(data.subarray(0, 20));
      await w.close();
      await fx.corruptIngest(ref);
      fx.store = await fx.reopen();
      const resumed = await fx.store.writer({ ref });
      await resumed.write(data.subarray(20));
      await assert.rejects(resumed.commit(), (err: unknown) => errorKind(err) === 'InvalidArgument' && /unexpected commit digest/.test(String(err)));
      assert.equal(await fx.store.has(digestOf(data)), false);
      await assert.rejects(fx.store.status(ref), (err: unknown) => errorKind(err) === 'NotFound');
    });

    it('a write past the announced size is refused and writes nothing', async () => {
      const ref = 'too-long';
      const w = await fx.store.writer({ ref, total: 5 });
      await w.write(Buffer.from('abc'));
      await assert.rejects(w.write(Buffer.from('def')), (err: unknown) => errorKind(err) === 'InvalidArgument' && /exceeds the expected size 5/.test(String(err)));
      assert.equal(w.status().offset, 3);
      assert.equal((await fx.store.status(ref)).offset, 3);
      await w.write(Buffer.from('de'));
      const info = await w.commit();
      assert.equal(info.digest, digestOf('abcde'));
    });

    it('a commit too short for the announced size is refused', async () => {
      const w = await fx.store.writer({ ref: 'too-short', total: 10 });
      await w.write(Buffer.from('short'));
      await assert.rejects(w.commit(), (err: unknown) => errorKind(err) === 'InvalidArgument' && /unexpected commit size 5, expected 10/.test(String(err)));
      assert.equal(await fx.store.has(digestOf('short')), false);
    });

    it('resuming with a different size or digest than the ingest started with is refused', async () => {
      const ref = 'announced';
      const w = await fx.store.writer({ ref, total: 3, expected: digestOf('abc') });
      await w.close();
      await assert.rejects(fx.store.writer({ ref, total: 4 }), (err: unknown) => errorKind(err) === 'InvalidArgument' && /started with size 3, not 4/.test(String(err)));
      await assert.rejects(fx.store.writer({ ref, expected: digestOf('xyz') }), (err: unknown) => errorKind(err) === 'InvalidArgument');
      await fx.store.abortIngest(ref);
      await assert.rejects(fx.store.abortIngest(ref), (err: unknown) => errorKind(err) === 'NotFound');
    });

    it('writev appends its chunks in order, as write does, and keeps the announced size', async () => {
      const ref = 'vectored';
      const w = await fx.store.writer({ ref, total: 12 });
      await w.writev([Buffer.from('ab'), Buffer.alloc(0), Buffer.from('cde')]);
      await w.write(Buffer.from('f'));
      await assert.rejects(w.writev([Buffer.from('ghi'), Buffer.from('jklm')]), (err: unknown) => errorKind(err) === 'InvalidArgument' && /write of 7 bytes at offset 6 exceeds the expected size 12/.test(String(err)));
      assert.equal(w.status().offset, 6, 'a refused writev writes nothing');
      await w.writev([Buffer.from('ghi'), Buffer.from('jkl')]);
      const info = await w.commit();
      assert.equal(info.digest, digestOf('abcdefghijkl'));
      assert.deepEqual(await fx.store.readBlob(info.digest), Buffer.from('abcdefghijkl'));
    });

    it('truncate(0) starts an ingest over', async () => {
      const w = await fx.store.writer({ ref: 'start-over' });
      await w.write(Buffer.from('wrong start'));
      await w.truncate(0);
      assert.equal(w.status().offset, 0);
      await w.write(Buffer.from('right'));
      assert.equal((await w.commit()).digest, digestOf('right'));
    });

    it('an anonymous writer that is closed leaves nothing', async () => {
      const w = await fx.store.writer();
      await w.write(Buffer.from('anonymous close'));
      await w.close();
      assert.equal(await fx.store.has(digestOf('anonymous close')), false);
      assert.ok(!(await fx.store.listIngests()).some((s) => s.ref === ''));
    });

    // ---- range reads --------------------------------------------------------------------

    it('reads byte ranges, as a registry answers Range requests', async () => {
      const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
      const { digest } = await fx.store.ingest(data);
      assert.deepEqual(await fx.store.read(digest, { offset: 10, length: 20 }), data.subarray(10, 30));
      assert.deepEqual(await fx.store.read(digest, { offset: 990 }), data.subarray(990));
      assert.deepEqual(await fx.store.read(digest, { offset: 995, length: 100 }), data.subarray(995), 'a range past the end is cut');
      assert.equal((await fx.store.read(digest, { offset: 1000 })).length, 0);
      await assert.rejects(fx.store.read(digest, { offset: 1001 }), (err: unknown) => errorKind(err) === 'InvalidArgument' && /past the end/.test(String(err)));
      await assert.rejects(fx.store.read(digest, { offset: -1 }), (err: unknown) => errorKind(err) === 'InvalidArgument');
      await assert.rejects(fx.store.read(digestOf('absent range'), { offset: 0 }), (err: unknown) => errorKind(err) === 'NotFound');
      assert.deepEqual(await readAll(fx.store.createReadStream(digest, { offset: 500, length: 250 })), data.subarray(500, 750));
      assert.deepEqual(await readAll(fx.store.createReadStream(digest, { offset: 1000 })), Buffer.alloc(0));
      await assert.rejects(readAll(fx.store.createReadStream(digest, { offset: 2000 })), (err: unknown) => errorKind(err) === 'InvalidArgument');
      await assert.rejects(readAll(fx.store.createReadStream(digest, { offset: 1, verify: true })), (err: unknown) => errorKind(err) === 'InvalidArgument');
    });

    // ---- labels ---------------------------------------------------------------------------

    it('labels: set at commit, replaced, changed by field path, kept across a restart', async () => {
      const config = await fx.store.ingest(Buffer.from('{"config":true}'));
      const manifest = Buffer.from('{"manifest":true}');
      const gcRef = `${LABEL_GC_REF_CONTENT_PREFIX}config`;
      const info = await fx.store.ingest(manifest, { labels: { [gcRef]: config.digest, 'berth/gc.root': 'x' } });
      assert.deepEqual(info.labels, { [gcRef]: config.digest, 'berth/gc.root': 'x' });
      assert.ok(info.updatedAt >= info.createdAt);
      assert.deepEqual((await fx.store.info(config.digest)).labels, {});

      const replaced = await fx.store.update(info.digest, { a: '1', b: '2' });
      assert.deepEqual(replaced.labels, { a: '1', b: '2' });
      const changed = await fx.store.update(info.digest, { b: 'two', c: '3' }, ['labels.b', 'labels.a']);
      assert.deepEqual(changed.labels, { b: 'two' }, 'a field path absent from labels removes the label; others stay as they were');
      await assert.rejects(fx.store.update(info.digest, {}, ['size']), (err: unknown) => errorKind(err) === 'InvalidArgument');

      // Committing the same content again merges labels.
      const merged = await fx.store.ingest(manifest, { labels: { [gcRef]: config.digest } });
      assert.deepEqual(merged.labels, { b: 'two', [gcRef]: config.digest });

      fx.store = await fx.reopen();
      assert.deepEqual((await fx.store.info(info.digest)).labels, { b: 'two', [gcRef]: config.digest });
      assert.ok((await fx.store.list()).some((b) => b.digest === info.digest && b.labels[gcRef] === config.digest));

      // Deleting a blob deletes its labels: the same content ingested again starts bare.
      await fx.store.delete(info.digest);
      assert.deepEqual((await fx.store.ingest(manifest)).labels, {});
    });

    it('invalid labels are refused and change nothing', async () => {
      const info = await fx.store.ingest(Buffer.from('labelled'), { labels: { keep: 'me' } });
      const tooLong = { big: 'v'.repeat(MAX_LABEL_SIZE) };
      await assert.rejects(fx.store.update(info.digest, tooLong), (err: unknown) => errorKind(err) === 'InvalidArgument' && /greater than maximum size \(4096 bytes\), key: big/.test(String(err)));
      await assert.rejects(fx.store.update(info.digest, { '': 'empty key' }), (err: unknown) => errorKind(err) === 'InvalidArgument');
      await assert.rejects(fx.store.ingest(Buffer.from('never stored'), { labels: tooLong }), (err: unknown) => errorKind(err) === 'InvalidArgument');
      assert.equal(await fx.store.has(digestOf('never stored')), false);
      assert.deepEqual((await fx.store.info(info.digest)).labels, { keep: 'me' });
      await assert.rejects(fx.store.update(digestOf('no such blob'), { a: 'b' }), (err: unknown) => errorKind(err) === 'NotFound');
    });
  });
}
