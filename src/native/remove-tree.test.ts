import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { native, UnmountFlags } from './index';
import { removeTree } from '../util/remove-tree';
import { needsRoot } from '../../test/helpers/root';

function withDir(body: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-rmtree-'));
    try {
      await body(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('removeTree: a nested tree of files, directories, a fifo and symlinks goes; what a link points to stays', { skip: needsRoot('needs root (a directory without write permission)') }, withDir(async (dir) => {
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'keep'), 'x');
  const tree = path.join(dir, 'tree');
  let deep = tree;
  for (let i = 0; i < 40; i++) deep = path.join(deep, `d${i}`);
  fs.mkdirSync(deep, { recursive: true });
  fs.writeFileSync(path.join(deep, 'file'), 'y');
  fs.writeFileSync(path.join(tree, 'top'), 'z');
  fs.mkdirSync(path.join(tree, 'empty'));
  fs.chmodSync(path.join(tree, 'd0'), 0o500); // not writable: root removes it anyway, as rm -rf does
  fs.symlinkSync(outside, path.join(tree, 'link-to-dir'));
  fs.symlinkSync(path.join(outside, 'keep'), path.join(tree, 'link-to-file'));
  fs.symlinkSync('/nonexistent', path.join(tree, 'dangling'));
  execFileSync('mkfifo', [path.join(tree, 'fifo')]);
  await native.removeTree!(tree);
  assert.equal(fs.existsSync(tree), false);
  assert.equal(fs.readFileSync(path.join(outside, 'keep'), 'utf8'), 'x');
}));

test('removeTree: a directory swapped for a symlink to elsewhere while the tree is removed is removed as a link, in a loop', { skip: needsRoot('needs root (a directory without write permission)') }, withDir(async (dir) => {
  // `outside` holds the same names as each tree directory: a removal by path that went through
  // a swapped-in link would delete them there.
  const outside = path.join(dir, 'outside');
  const names = Array.from({ length: 150 }, (_, i) => `f${i}`);
  fs.mkdirSync(path.join(outside, 'victim'), { recursive: true });
  for (const name of names) fs.writeFileSync(path.join(outside, 'victim', name), 'x');
  for (let round = 0; round < 12; round++) {
    const tree = path.join(dir, `tree${round}`);
    for (let i = 0; i < 8; i++) {
      fs.mkdirSync(path.join(tree, `d${i}`, 'victim'), { recursive: true });
      for (const name of names) fs.writeFileSync(path.join(tree, `d${i}`, 'victim', name), 'y');
    }
    // A racer swaps each dN, while it is being emptied, for a symlink to `outside`.
    let stop = false;
    const racer = (async () => {
      while (!stop) {
        for (let i = 0; i < 8 && !stop; i++) {
          const d = path.join(tree, `d${i}`);
          try {
            fs.renameSync(d, `${d}.old${round}`);
            fs.symlinkSync(outside, d);
          } catch {
            // gone already
          }
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    await native.removeTree!(tree).catch(() => undefined);
    stop = true;
    await racer;
    await native.removeTree!(tree).catch(() => undefined);
    assert.deepEqual(fs.readdirSync(path.join(outside, 'victim')).length, names.length, `round ${round}`);
  }
}));

test('removeTree: a missing path is removed already; a symlink given as the path goes, not its target', withDir(async (dir) => {
  await native.removeTree!(path.join(dir, 'missing'));
  await removeTree(path.join(dir, 'missing', 'deeper'));
  const target = path.join(dir, 'target');
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(target, 'keep'), 'x');
  fs.symlinkSync(target, path.join(dir, 'link'));
  await native.removeTree!(path.join(dir, 'link'));
  assert.equal(fs.existsSync(path.join(dir, 'link')), false);
  assert.equal(fs.readFileSync(path.join(target, 'keep'), 'utf8'), 'x');
}));

test('removeTree: a plain file goes too', withDir(async (dir) => {
  fs.writeFileSync(path.join(dir, 'file'), 'x');
  await removeTree(path.join(dir, 'file'));
  assert.equal(fs.existsSync(path.join(dir, 'file')), false);
}));

test('removeTree: never enters a file system mounted inside; it removes the rest and names the directory it could not', { skip: needsRoot('needs root (mount)') }, withDir(async (dir) => {
  const tree = path.join(dir, 'tree');
  const mountPoint = path.join(tree, 'sub', 'mnt');
  fs.mkdirSync(mountPoint, { recursive: true });
  fs.writeFileSync(path.join(tree, 'sibling'), 'y');
  native.mount('tmpfs', mountPoint, 'tmpfs', 0, 'size=1m');
  try {
    fs.writeFileSync(path.join(mountPoint, 'precious'), 'x');
    await assert.rejects(native.removeTree!(tree), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'EBUSY');
      assert.equal(err.syscall, 'rmdir');
      assert.equal(err.path, mountPoint);
      return true;
    });
    assert.equal(fs.readFileSync(path.join(mountPoint, 'precious'), 'utf8'), 'x');
    assert.equal(fs.existsSync(path.join(tree, 'sibling')), false);
  } finally {
    native.umount(mountPoint, UnmountFlags.MNT_DETACH);
  }
}));
