import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalContentStore } from './store';
import { runContentStoreSuite } from '../testsuite';

runContentStoreSuite('LocalContentStore', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cs-'));
  const open = async () => {
    const store = new LocalContentStore(dir);
    await store.init();
    return store;
  };
  return {
    store: await open(),
    cleanup: () => fs.rm(dir, { recursive: true, force: true }),
    reopen: open,
    async corruptIngest(ref: string) {
      const data = path.join(dir, 'content', 'ingest', createHash('sha256').update(ref).digest('hex'), 'data');
      const bytes = await fs.readFile(data);
      bytes[0] = bytes[0]! ^ 0xff;
      await fs.writeFile(data, bytes);
    },
  };
});

test('init() removes stale ingests', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cs-'));
  try {
    const store = new LocalContentStore(dir);
    await store.init();
    const w = await store.writer();
    await w.write(Buffer.from('crash'));
    const ingest = path.join(dir, 'content', 'ingest');
    assert.equal((await fs.readdir(ingest)).length, 1);
    await new LocalContentStore(dir).init();
    assert.equal((await fs.readdir(ingest)).length, 0);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('init() keeps named ingests, drops what a crash left half done', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cs-'));
  try {
    const store = new LocalContentStore(dir);
    await store.init();
    const named = await store.writer({ ref: 'kept' });
    await named.write(Buffer.from('partial'));
    await named.close();
    const labelled = await store.ingest(Buffer.from('blob'), { labels: { a: 'b' } });
    const ingest = path.join(dir, 'content', 'ingest');
    const labels = path.join(dir, 'content', 'labels', 'sha256');
    // A named ingest whose meta.json was never written, labels of a blob that is gone, a temp file.
    await fs.mkdir(path.join(ingest, createHash('sha256').update('no-meta').digest('hex')));
    await fs.writeFile(path.join(labels, `${'0'.repeat(64)}.json`), '{"labels":{"x":"y"},"updatedAt":1}');
    await fs.writeFile(path.join(labels, '.tmp-half-written'), '{"lab');

    const restarted = new LocalContentStore(dir);
    await restarted.init();
    assert.equal((await restarted.status('kept')).offset, 7);
    assert.deepEqual((await fs.readdir(ingest)).length, 1);
    assert.deepEqual((await fs.readdir(labels)).sort(), [`${labelled.digest.slice(7)}.json`]);
    assert.deepEqual((await restarted.info(labelled.digest)).labels, { a: 'b' });
    const modes = await Promise.all([ingest, labels, path.join(labels, `${labelled.digest.slice(7)}.json`)].map(async (p) => (await fs.stat(p)).mode & 0o777));
    assert.deepEqual(modes, [0o700, 0o700, 0o600], 'labels and ingests are private, as blobs');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('writer({ existing: true }) resumes a named ingest, and refuses a missing one without creating it', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cs-'));
  try {
    const store = new LocalContentStore(dir);
    await store.init();
    const ingest = path.join(dir, 'content', 'ingest');
    await assert.rejects(store.writer({ ref: 'missing', existing: true }), (err: Error & { kind?: string }) => /ingest missing not found/.test(err.message));
    assert.deepEqual(await fs.readdir(ingest), [], 'nothing made for a missing ingest');
    const started = await store.writer({ ref: 'up' });
    await started.write(Buffer.from('first '));
    await started.close();
    const resumed = await store.writer({ ref: 'up', existing: true });
    assert.equal(resumed.status().offset, 6);
    await resumed.write(Buffer.from('second'));
    const info = await resumed.commit();
    assert.equal((await store.readBlob(info.digest)).toString(), 'first second');
    assert.deepEqual(await fs.readdir(ingest), [], 'a commit leaves no ingest folder');
    await assert.rejects(store.writer({ ref: 'up', existing: true }), /ingest up not found/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('an aborted ingest goes with whatever else its folder holds (a temp file a crash left)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cs-'));
  try {
    const store = new LocalContentStore(dir);
    await store.init();
    const ingest = path.join(dir, 'content', 'ingest');
    const w = await store.writer({ ref: 'stray' });
    await w.write(Buffer.from('data'));
    await fs.writeFile(path.join(ingest, createHash('sha256').update('stray').digest('hex'), '.tmp-meta.json-abc'), '{');
    await w.abort();
    assert.deepEqual(await fs.readdir(ingest), []);
    const anonymous = await store.writer();
    await anonymous.write(Buffer.from('x'));
    await anonymous.abort();
    assert.deepEqual(await fs.readdir(ingest), []);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
