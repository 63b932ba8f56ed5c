import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hasCopyFiles, native } from '../../native';
import { closeFd, openHostDir } from '../../util/fs-at';
import { treeSnapshot } from '../../archive/tar/tree-snapshot';
import { copyChildren, type CopyAttributes } from './copy-files';
import { needsRoot } from '../../../test/helpers/root';

/** A source tree with what COPY meets: files of several modes (set-id too), a symlink, a fifo, nested folders. */
async function sourceTree(dir: string): Promise<void> {
  await fs.mkdir(path.join(dir, 'sub', 'deeper'), { recursive: true });
  await fs.writeFile(path.join(dir, 'a.txt'), 'a');
  await fs.writeFile(path.join(dir, 'big.bin'), Buffer.alloc(3 * 1024 * 1024 + 5, 7));
  await fs.writeFile(path.join(dir, 'run.sh'), '#!/bin/sh\n', { mode: 0o4755 });
  await fs.chmod(path.join(dir, 'run.sh'), 0o4755);
  await fs.writeFile(path.join(dir, 'sub', 'deeper', 'x'), 'x', { mode: 0o600 });
  await fs.symlink('/etc/passwd', path.join(dir, 'link'));
  native.mknod(path.join(dir, 'pipe'), 0o010644, 0, 0);
  await fs.utimes(path.join(dir, 'a.txt'), 1_000_000, 1_000_000);
}

async function copyInto(src: string, dst: string, attrs: CopyAttributes, fresh: boolean): Promise<void> {
  await fs.mkdir(dst, { recursive: true });
  const s = openHostDir(src);
  const d = openHostDir(dst);
  try {
    copyChildren(s, d, attrs, undefined, fresh);
  } finally {
    closeFd(s);
    closeFd(d);
  }
}

test('COPY into a fresh folder (the native batch) gives exactly what the file-by-file copy gives: owners, modes, set-id bits after chown, mtimes, links not followed, fifos', { skip: needsRoot() || (!hasCopyFiles() && 'the addon has no copyFiles: node native/build-addon.js') }, async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bcopy-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  const src = path.join(root, 'src');
  await fs.mkdir(src);
  await sourceTree(src);
  for (const attrs of [{ uid: 0, gid: 0 }, { uid: 1000, gid: 2000 }, { uid: 5, gid: 6, mode: 0o640 }]) {
    const tag = `${attrs.uid}-${attrs.mode ?? 'keep'}`;
    await copyInto(src, path.join(root, `batch-${tag}`), attrs, true);
    await copyInto(src, path.join(root, `single-${tag}`), attrs, false);
    const batch = await treeSnapshot(path.join(root, `batch-${tag}`));
    assert.deepEqual(batch, await treeSnapshot(path.join(root, `single-${tag}`)));
    assert.match(batch['link']!, /^symlink \/etc\/passwd owner=/);
    assert.match(batch['a.txt']!, new RegExp(`mode=${(attrs.mode ?? 0o644).toString(8)} owner=${attrs.uid}:${attrs.gid} mtime=1000000$`));
  }
});

test('copyFiles returns what is not a regular file, never opening it, and refuses a name that is gone', { skip: needsRoot() || (!hasCopyFiles() && 'the addon has no copyFiles: node native/build-addon.js') }, async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bcopy-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  const src = path.join(root, 'src');
  const dst = path.join(root, 'dst');
  await fs.mkdir(src);
  await fs.mkdir(dst);
  await sourceTree(src);
  const s = openHostDir(src);
  const d = openHostDir(dst);
  t.after(() => {
    closeFd(s);
    closeFd(d);
  });
  const others = native.copyFiles!(s, d, ['a.txt', 'link', 'pipe', 'sub', 'run.sh'], 0, 0, -1, false);
  assert.deepEqual(others, ['link', 'pipe', 'sub']);
  assert.deepEqual((await fs.readdir(dst)).sort(), ['a.txt', 'run.sh']);
  assert.throws(() => native.copyFiles!(s, d, ['missing'], 0, 0, -1, false), { code: 'ENOENT' });
  assert.throws(() => native.copyFiles!(s, d, ['a.txt'], 0, 0, -1, false), { code: 'EEXIST' }, 'never over what is there');
});
