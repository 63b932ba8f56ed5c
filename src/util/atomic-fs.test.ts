import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from './atomic-fs';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'batomic-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

for (const [label, size] of [['small (written synchronously)', 100], ['large (through the thread pool)', 200 * 1024]] as const) {
  test(`writeFileAtomic, ${label}: replaces the file whole, with its mode, and leaves no temp file`, async (t) => {
    const dir = await tempDir(t);
    const file = path.join(dir, 'f');
    await fs.writeFile(file, 'old');
    for (const durable of [true, 'contents', false] as const) {
      const data = Buffer.alloc(size, durable === true ? 'a' : durable === false ? 'b' : 'c');
      await writeFileAtomic(file, data, 0o640, { durable });
      assert.deepEqual(await fs.readFile(file), data);
      assert.equal((await fs.stat(file)).mode & 0o777, 0o640);
    }
    assert.deepEqual(await fs.readdir(dir), ['f']);
  });
}

test('writeFileAtomic: a failed write rejects, names the path, and leaves the old file and no temp file', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'f');
  await fs.writeFile(file, 'old');
  // The target is a directory now: the rename fails after the temp file was written.
  await fs.rm(file);
  await fs.mkdir(path.join(file, 'inside'), { recursive: true });
  await assert.rejects(writeFileAtomic(file, 'new'), (err: NodeJS.ErrnoException) => ['EISDIR', 'ENOTEMPTY', 'EEXIST'].includes(err.code ?? '') && String(err.message).includes(dir));
  assert.deepEqual(await fs.readdir(dir), ['f']);
  await assert.rejects(writeJsonAtomic(path.join(dir, 'missing', 'g.json'), { a: 1 }), { code: 'ENOENT' });
});
