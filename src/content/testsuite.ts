import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import type { ContentStore } from './types';
import { digestOf } from '../util/digest';
import { errorKind } from '../errors';

export interface ContentStoreFixture {
  store: ContentStore;
  cleanup(): Promise<void>;
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
  });
}
