import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hasBlobHash, native } from '../../native';
import { newIngestHash } from './ingest-hash';

const skip = hasBlobHash() ? false : 'the addon was built before its ingest hashing calls';

async function tempFile(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-ingest-hash-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return path.join(dir, 'data');
}

test('appendHashed writes every chunk in order, then hashes them after what the state had seen', { skip }, async (t) => {
  const file = await tempFile(t);
  const handle = await fs.open(file, 'a+');
  try {
    const state = native.sha256New!();
    native.sha256Update!(state, Buffer.from('before'));
    const chunks = [randomBytes(1000), new Uint8Array(0), randomBytes(1 << 20), randomBytes(77).subarray(7)];
    const written = await native.appendHashed!(handle.fd, chunks, state);
    const data = await fs.readFile(file);
    assert.equal(written, 1000 + (1 << 20) + 70);
    assert.deepEqual(data, Buffer.concat(chunks));
    const expected = createHash('sha256').update('before').update(data).digest('hex');
    assert.equal(native.sha256Hex!(state), expected);
    // Reading the digest does not end the state: more bytes go on from there.
    native.sha256Update!(state, Buffer.from('after'));
    assert.equal(native.sha256Hex!(state), createHash('sha256').update('before').update(data).update('after').digest('hex'));
  } finally {
    await handle.close();
  }
});

test('a failed appendHashed rejects with the errno and leaves the state as it was', { skip }, async (t) => {
  const file = await tempFile(t);
  await fs.writeFile(file, 'x');
  const readOnly = await fs.open(file, 'r');
  try {
    const state = native.sha256New!();
    native.sha256Update!(state, Buffer.from('kept'));
    const before = native.sha256Hex!(state);
    await assert.rejects(native.appendHashed!(readOnly.fd, [randomBytes(4096)], state), { code: 'EBADF', syscall: 'write' });
    assert.equal(native.sha256Hex!(state), before);
  } finally {
    await readOnly.close();
  }
});

test('the hashing calls refuse a state that sha256New did not make, and chunks that are not bytes', { skip }, () => {
  assert.throws(() => native.sha256Hex!(Buffer.alloc(3)), { code: 'ERR_INVALID_ARG_TYPE', message: /SHA-256 state/ });
  assert.throws(() => native.sha256Update!(native.sha256New!(), 'text' as unknown as Uint8Array), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => native.appendHashed!(0, ['text' as unknown as Uint8Array], native.sha256New!()), { code: 'ERR_INVALID_ARG_TYPE' });
});

test('an ingest hash over uneven appends and updates is the sha256 of the file it wrote', async (t) => {
  const file = await tempFile(t);
  const handle = await fs.open(file, 'a+');
  try {
    const hash = newIngestHash();
    const reference = createHash('sha256');
    for (const size of [1, 63, 64, 65, 100_000, 1 << 20, 3]) {
      const chunks = [randomBytes(size), randomBytes(size >> 1)];
      await hash.append(handle, chunks);
      for (const c of chunks) reference.update(c);
    }
    assert.equal(hash.hex(), reference.copy().digest('hex'));
    assert.equal(hash.hex(), createHash('sha256').update(await fs.readFile(file)).digest('hex'));
  } finally {
    await handle.close();
  }
});
