import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalContentStore } from './store';
import { runContentStoreSuite } from '../testsuite';

runContentStoreSuite('LocalContentStore', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cs-'));
  const store = new LocalContentStore(dir);
  await store.init();
  return { store, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
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
