import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packDirectory } from './pack';
import { extractLayer } from './extract';
import { bufferOf, tarStreamOf } from './test-tar';

/**
 * The packer and the extractor against a tree another process keeps changing: a directory
 * and a file are swapped, as fast as Node can, with symlinks to a directory and a file
 * outside the tree. (test/integration/security has the same race through a real container.)
 */
const TRIES = 300;

/** A separate process swapping `dir` (directory ↔ symlink to outsideDir) and `file` (file ↔ symlink to outsideFile). */
function startSwapper(dir: string, outsideDir: string, file: string, outsideFile: string) {
  const script = `
    const fs = require('fs');
    const [dir, outsideDir, file, outsideFile] = process.argv.slice(1);
    const inner = 'i'.repeat(64);
    for (;;) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(dir);
        fs.writeFileSync(dir + '/secret', inner);
        fs.rmSync(dir, { recursive: true, force: true });
        fs.symlinkSync(outsideDir, dir);
        fs.writeFileSync(file + '.tmp', inner);
        fs.renameSync(file + '.tmp', file);
        fs.symlinkSync(outsideFile, file + '.l');
        fs.renameSync(file + '.l', file);
      } catch {}
    }`;
  return spawn(process.execPath, ['-e', script, dir, outsideDir, file, outsideFile], { stdio: 'ignore' });
}

test('a tree swapped with symlinks to outside paths never leaks into a tar nor lets a tar write outside', async (t) => {
  const top = await fs.mkdtemp(path.join(os.tmpdir(), 'btr-'));
  const tree = path.join(top, 'tree');
  const outside = path.join(top, 'outside');
  await fs.mkdir(path.join(tree, 'd'), { recursive: true });
  await fs.mkdir(outside);
  const canary = `OUTSIDE-${randomBytes(16).toString('hex')}`;
  await fs.writeFile(path.join(outside, 'secret'), canary.repeat(4), { mode: 0o600 });
  const before = await fs.lstat(path.join(outside, 'secret'));

  const swapper = startSwapper(path.join(tree, 'd', 'x'), outside, path.join(tree, 'd', 'f'), path.join(outside, 'secret'));
  const exited = new Promise((resolve) => swapper.once('exit', resolve));
  // One hook, in this order: the swapper must be gone before its tree can be removed.
  t.after(async () => {
    swapper.kill('SIGKILL');
    await exited;
    await fs.rm(top, { recursive: true, force: true });
  });

  let packed = 0;
  let extracted = 0;
  for (let i = 0; i < TRIES; i++) {
    const tar = await bufferOf(packDirectory(tree)).catch(() => undefined);
    if (tar) {
      packed++;
      assert.ok(!tar.includes(canary.slice(0, 24)), `try ${i}: the tar holds bytes from outside`);
    }
    const layer = tarStreamOf([
      { name: 'd/x/pwned', body: 'x', mode: 0o777 },
      { name: 'd/x/secret', body: 'overwritten', mode: 0o777 },
      { name: 'd/f', body: 'overwritten', mode: 0o777 },
    ]);
    await extractLayer(layer, tree, { whiteouts: 'none' }).then(
      () => extracted++,
      () => undefined, // the swapper removed a directory under us: an error, never a write outside
    );
  }
  swapper.kill('SIGKILL');
  await exited;
  t.diagnostic(`${packed} tars and ${extracted} extractions in ${TRIES} tries`);
  assert.ok(packed > TRIES / 2 && extracted > 0, 'the race ran');
  assert.deepEqual(await fs.readdir(outside), ['secret']);
  const after = await fs.lstat(path.join(outside, 'secret'));
  assert.equal(await fs.readFile(path.join(outside, 'secret'), 'utf8'), canary.repeat(4));
  assert.deepEqual([after.mode, after.uid, after.mtimeMs], [before.mode, before.uid, before.mtimeMs]);
});
