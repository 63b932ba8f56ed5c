import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { digestOf } from '../../../util/digest';
import { isNotFound } from '../../../errors';
import { DigestMismatchError, SizeMismatchError, UploadBusyError, UploadLimitError, UploadOffsetError, type StorageDriver } from './driver';

/**
 * The conformance suite every registry StorageDriver must pass (distribution's
 * storagedriver/testsuites in spirit): the guarantees listed in driver.ts. `factory` returns a
 * fresh, empty, initialised driver; `reopen` a new instance on the same data (a restart).
 */
export interface DriverFixture {
  driver: StorageDriver;
  reopen(): Promise<StorageDriver>;
  cleanup(): Promise<void>;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** A stream that sends `data` and then fails, as a client that disconnects mid-body. */
function failingAfter(data: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(data);
      } else {
        this.destroy(new Error('client went away'));
      }
    },
  });
}

/** `skip`: why the backend cannot run here (its server is not installed), or false. */
export function runStorageDriverSuite(name: string, factory: () => Promise<DriverFixture>, options: { skip?: string | false } = {}): void {
  describe(`StorageDriver conformance: ${name}`, { skip: options.skip ?? false }, () => {
    let fx: DriverFixture;
    let d: StorageDriver;
    beforeEach(async () => {
      fx = await factory();
      d = fx.driver;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('stores, stats, reads (whole and ranges), lists and deletes blobs', async () => {
      const data = randomBytes(10_000);
      const digest = digestOf(data);
      assert.equal(await d.statBlob(digest), undefined);
      assert.equal(await d.getBlob(digest), undefined);
      const stat = await d.putBlob(digest, data);
      assert.equal(stat.size, data.length);
      assert.equal((await d.statBlob(digest))?.size, data.length);
      assert.deepEqual(await d.getBlob(digest), data);
      assert.deepEqual(await readAll(d.readBlob(digest)), data);
      assert.deepEqual(await readAll(d.readBlob(digest, { offset: 9000, length: 1000 })), data.subarray(9000));
      assert.deepEqual(await readAll(d.readBlob(digest, { offset: 1, length: 2 })), data.subarray(1, 3));
      assert.deepEqual((await collect(d.listBlobs())).map((b) => b.digest), [digest]);
      await d.deleteBlob(digest);
      await d.deleteBlob(digest); // idempotent
      assert.equal(await d.statBlob(digest), undefined);
      await assert.rejects(readAll(d.readBlob(digest)));
    });

    it('random access through openBlob, where the driver offers it: reads at any offset, NotFound when absent', async (t) => {
      if (!d.openBlob) return t.skip('this driver has no openBlob');
      const data = randomBytes(3000);
      const digest = digestOf(data);
      await d.putBlob(digest, data);
      const reader = await d.openBlob(digest);
      try {
        assert.equal(reader.size, data.length);
        const buffer = Buffer.alloc(1000);
        assert.equal(await reader.read(buffer, 1500), 1000);
        assert.deepEqual(buffer, data.subarray(1500, 2500));
        assert.equal(await reader.read(buffer, 2800), 200);
        assert.deepEqual(buffer.subarray(0, 200), data.subarray(2800));
        assert.equal(await reader.read(buffer, 3000), 0);
      } finally {
        await reader.close();
      }
      await assert.rejects(d.openBlob(digestOf('absent')), (err: unknown) => isNotFound(err));
    });

    it('refuses a blob whose content does not match its digest, storing nothing', async () => {
      const data = randomBytes(100);
      const wrong = digestOf(Buffer.from('other'));
      await assert.rejects(d.putBlob(wrong, data), DigestMismatchError);
      assert.equal(await d.statBlob(wrong), undefined);
      assert.equal(await d.statBlob(digestOf(data)), undefined);
    });

    it('uploads: create, append in order, status, commit makes the blob visible only then', async () => {
      const data = randomBytes(50_000);
      const digest = digestOf(data);
      const created = await d.createUpload('u1');
      assert.equal(created.offset, 0);
      assert.equal((await d.appendUpload('u1', Readable.from([data.subarray(0, 20_000)]))).offset, 20_000);
      assert.equal(await d.statBlob(digest), undefined, 'invisible while uploading');
      await assert.rejects(d.appendUpload('u1', Readable.from([data.subarray(30_000)]), { expectedOffset: 30_000 }), UploadOffsetError);
      assert.equal((await d.uploadStatus('u1')).offset, 20_000, 'a refused append writes nothing');
      const status = await d.appendUpload('u1', Readable.from([data.subarray(20_000)]), { expectedOffset: 20_000 });
      assert.equal(status.offset, data.length);
      assert.deepEqual((await d.listUploads()).map((u) => [u.id, u.offset]), [['u1', data.length]]);
      const blob = await d.commitUpload('u1', digest, data.length);
      assert.equal(blob.size, data.length);
      assert.deepEqual(await readAll(d.readBlob(digest)), data);
      assert.deepEqual(await d.listUploads(), []);
      await assert.rejects(d.uploadStatus('u1'), (err) => isNotFound(err));
    });

    it('a commit with the wrong digest or size stores nothing and removes the upload', async () => {
      const data = randomBytes(1000);
      await d.createUpload('bad');
      await d.appendUpload('bad', Readable.from([data]));
      const wrong = digestOf(Buffer.from('not it'));
      await assert.rejects(d.commitUpload('bad', wrong), (err) => err instanceof DigestMismatchError && err.actual === digestOf(data));
      assert.equal(await d.statBlob(wrong), undefined);
      assert.equal(await d.statBlob(digestOf(data)), undefined);
      await assert.rejects(d.uploadStatus('bad'), (err) => isNotFound(err));
      await d.createUpload('short');
      await d.appendUpload('short', Readable.from([data]));
      await assert.rejects(d.commitUpload('short', digestOf(data), 999), SizeMismatchError);
      assert.equal(await d.statBlob(digestOf(data)), undefined);
      assert.deepEqual(await d.listUploads(), []);
    });

    it("an append leaves the caller's buffers as they were (only an owned source's memory is freed)", async () => {
      // Buffer.alloc owns its whole ArrayBuffer: the kind of buffer a driver could free.
      const data = Buffer.alloc(64 * 1024, 7);
      await d.createUpload('kept');
      await d.appendUpload('kept', Readable.from([data]));
      assert.equal(data.length, 64 * 1024);
      assert.equal((await d.commitUpload('kept', digestOf(Buffer.alloc(64 * 1024, 7)))).size, 64 * 1024);
      assert.equal(data[0], 7);
    });

    it('an append that fails midway keeps the bytes received; one past its limit fails', async () => {
      const data = randomBytes(4096);
      await d.createUpload('cut');
      await assert.rejects(d.appendUpload('cut', failingAfter(data.subarray(0, 1000))), /client went away/);
      assert.equal((await d.uploadStatus('cut')).offset, 1000);
      await assert.rejects(d.appendUpload('cut', Readable.from([data.subarray(1000, 2000), data.subarray(2000)]), { limit: 1500 }), UploadLimitError);
      const offset = (await d.uploadStatus('cut')).offset;
      assert.ok(offset >= 1000 && offset <= 2500, `offset ${offset} holds only whole bytes received within the limit`);
      await d.cancelUpload('cut');
      await assert.rejects(d.uploadStatus('cut'), (err) => isNotFound(err));
      await assert.rejects(d.cancelUpload('cut'), (err) => isNotFound(err));
    });

    it('one append at a time per upload', async () => {
      await d.createUpload('busy');
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let pushed = false;
      const slow = new Readable({
        read() {
          if (pushed) return;
          pushed = true;
          this.push(Buffer.from('a'));
          void gate.then(() => this.push(null));
        },
      });
      const first = d.appendUpload('busy', slow);
      await new Promise((r) => setTimeout(r, 50));
      await assert.rejects(d.appendUpload('busy', Readable.from([Buffer.from('b')])), UploadBusyError);
      release();
      assert.equal((await first).offset, 1);
      assert.equal((await d.appendUpload('busy', Readable.from([Buffer.from('b')]))).offset, 2);
    });

    it('concurrent commits of the same content both succeed and leave one blob', async () => {
      const data = randomBytes(200_000);
      const digest = digestOf(data);
      const ids = ['c1', 'c2', 'c3', 'c4'];
      await Promise.all(ids.map((id) => d.createUpload(id)));
      await Promise.all(ids.map((id) => d.appendUpload(id, Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]))));
      const results = await Promise.all(ids.map((id) => d.commitUpload(id, digest)));
      for (const r of results) assert.equal(r.size, data.length);
      assert.deepEqual((await collect(d.listBlobs())).map((b) => b.digest), [digest]);
      assert.deepEqual(await readAll(d.readBlob(digest)), data);
      assert.deepEqual(await d.listUploads(), []);
    });

    it('an upload survives a restart and resumes where it stopped', async () => {
      const data = randomBytes(30_000);
      await d.createUpload('persist');
      await d.appendUpload('persist', Readable.from([data.subarray(0, 12_345)]));
      const again = await fx.reopen();
      assert.equal((await again.uploadStatus('persist')).offset, 12_345);
      await again.appendUpload('persist', Readable.from([data.subarray(12_345)]), { expectedOffset: 12_345 });
      await again.commitUpload('persist', digestOf(data));
      assert.deepEqual(await again.getBlob(digestOf(data)), data);
    });

    it('metadata: put replaces, get, list children sorted, delete removes a whole folder', async () => {
      assert.equal(await d.getMetadata('repositories/a/_manifests/tags/v1'), undefined);
      assert.deepEqual(await d.listMetadata('repositories'), []);
      await d.putMetadata('repositories/a/_manifests/tags/v1', Buffer.from('one'));
      await d.putMetadata('repositories/a/_manifests/tags/v1', Buffer.from('two'));
      await d.putMetadata('repositories/a/_manifests/tags/v0', Buffer.from('zero'));
      await d.putMetadata('repositories/b/c/_layers/x', Buffer.from('x'));
      assert.equal((await d.getMetadata('repositories/a/_manifests/tags/v1'))?.toString(), 'two');
      await d.putMetadata('repositories/a/_uploads/u', Buffer.from('advisory'), { durable: false });
      assert.equal((await d.getMetadata('repositories/a/_uploads/u'))?.toString(), 'advisory');
      assert.deepEqual(await d.listMetadata('repositories'), ['a', 'b']);
      assert.deepEqual(await d.listMetadata('repositories/a/_manifests/tags'), ['v0', 'v1']);
      assert.deepEqual(await d.listMetadata('repositories/a'), ['_manifests', '_uploads']);
      assert.deepEqual(await d.listMetadata('repositories/b'), ['c']);
      assert.equal(await d.getMetadata('repositories/a'), undefined, 'a folder is not a document');
      if (d.hasMetadata) {
        const answers = await Promise.all(['repositories/a/_manifests/tags/v1', 'repositories/a/_uploads/u', 'repositories/a', 'repositories/a/_manifests/tags/v9', 'repositories/a/_manifests/tags/v1/x'].map((k) => d.hasMetadata!(k)));
        assert.deepEqual(answers, [true, true, false, false, false], 'hasMetadata answers as getMetadata');
      }
      await d.deleteMetadata('repositories/a');
      await d.deleteMetadata('repositories/a');
      assert.deepEqual(await d.listMetadata('repositories'), ['b']);
      assert.equal(await d.getMetadata('repositories/a/_manifests/tags/v1'), undefined);
    });

    it('metadata keys cannot escape the driver\'s space', async () => {
      for (const key of ['../x', 'a/../../x', 'a//b', '/abs', 'a/./b', '', 'a/.hidden']) {
        await assert.rejects(d.putMetadata(key, Buffer.from('x')), /invalid storage key/, key);
        await assert.rejects(d.getMetadata(key), /invalid storage key/, key);
      }
    });

    it('concurrent puts of one key leave one whole value', async () => {
      const values = Array.from({ length: 10 }, (_, i) => Buffer.alloc(20_000, 65 + i));
      await Promise.all(values.map((v) => d.putMetadata('race/key', v)));
      const got = await d.getMetadata('race/key');
      assert.ok(got && values.some((v) => v.equals(got)), 'one of the written values, whole');
    });
  });
}
