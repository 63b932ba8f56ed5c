import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { copyTree } from './copy-tree';
import { treeSnapshot } from './tar/tree-snapshot';
import { closeFd, openHostDir } from '../util/fs-at';
import { native } from '../native';

const skip = process.getuid?.() === 0 ? false : 'needs root (chown, mknod)';
// security.capability v2: effective, permitted = cap_net_raw.
const CAP = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ct-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

async function copy(src: string, dst: string): Promise<void> {
  const [s, d] = [openHostDir(src), openHostDir(dst)];
  try {
    await copyTree(s, d);
  } finally {
    closeFd(s);
    closeFd(d);
  }
}

test('copyTree keeps types, owners, modes, nanosecond mtimes, hard links and xattrs; the root takes the source`s', { skip }, async (t) => {
  const root = await tempDir(t);
  const src = path.join(root, 'src');
  const dst = path.join(root, 'dst');
  await fs.mkdir(path.join(src, 'a/b'), { recursive: true });
  await fs.mkdir(dst);
  await fs.writeFile(path.join(src, 'a/file'), 'x'.repeat(600_000));
  await fs.chown(path.join(src, 'a/file'), 12, 34);
  await fs.chmod(path.join(src, 'a/file'), 0o4750);
  await fs.link(path.join(src, 'a/file'), path.join(src, 'a/b/hard'));
  await fs.symlink('/etc/passwd', path.join(src, 'abs'));
  await fs.symlink('../../../../../etc', path.join(src, 'a/up'));
  await fs.lchown(path.join(src, 'abs'), 5, 6);
  native.mknod(path.join(src, 'fifo'), 0o010640, 0, 0);
  native.mknod(path.join(src, 'null'), 0o020666, 1, 3);
  await fs.writeFile(path.join(src, 'ping'), '#!');
  native.lsetxattr(path.join(src, 'ping'), 'security.capability', CAP);
  native.lsetxattr(path.join(src, 'a/b'), 'user.berth', Buffer.from('on a dir'));
  native.lsetxattr(path.join(src, 'a/file'), 'trusted.berth', Buffer.from([0, 1, 2, 255]));
  native.lsetxattr(path.join(src, 'a/b'), 'trusted.overlay.opaque', Buffer.from('y'));
  await fs.chmod(path.join(src, 'a/b'), 0o1777);
  await fs.utimes(path.join(src, 'a/file'), 1000.123456, 1_600_000_000.987654);
  await fs.chown(src, 77, 88);
  await fs.chmod(src, 0o705);
  native.lsetxattr(src, 'user.root', Buffer.from('top'));

  await copy(src, dst);

  assert.deepEqual(await treeSnapshot(dst), await treeSnapshot(src));
  const [from, to] = await Promise.all([fs.stat(path.join(src, 'a/file'), { bigint: true }), fs.stat(path.join(dst, 'a/file'), { bigint: true })]);
  assert.equal(to.mtimeNs, from.mtimeNs, 'nanosecond mtime');
  assert.equal((await fs.stat(path.join(dst, 'a/b/hard'), { bigint: true })).ino, to.ino, 'a hard link stays one');
  assert.equal(await fs.readlink(path.join(dst, 'abs')), '/etc/passwd', 'a symlink is copied, never followed');
  assert.equal(await fs.readlink(path.join(dst, 'a/up')), '../../../../../etc');
  assert.deepEqual(native.lgetxattr(path.join(dst, 'ping'), 'security.capability'), CAP);
  assert.deepEqual(native.lgetxattr(path.join(dst, 'a/b'), 'user.berth'), Buffer.from('on a dir'));
  assert.deepEqual(native.lgetxattr(path.join(dst, 'a/file'), 'trusted.berth'), Buffer.from([0, 1, 2, 255]), 'binary values kept');
  assert.equal(native.lgetxattr(path.join(dst, 'a/b'), 'trusted.overlay.opaque'), undefined, 'overlay`s own xattrs are not copied');
  assert.deepEqual(native.lgetxattr(dst, 'user.root'), Buffer.from('top'));
  const top = await fs.stat(dst);
  assert.deepEqual([top.uid, top.gid, top.mode & 0o7777], [77, 88, 0o705], 'the destination takes the source root`s owner and mode');
});

test('copyTree refuses to write through a name already in the destination', { skip }, async (t) => {
  const root = await tempDir(t);
  const src = path.join(root, 'src');
  const dst = path.join(root, 'dst');
  const outside = path.join(root, 'outside');
  await Promise.all([fs.mkdir(path.join(src, 'd'), { recursive: true }), fs.mkdir(dst), fs.mkdir(outside)]);
  await fs.writeFile(path.join(src, 'd/f'), 'image');
  // A symlink planted where the copy will make `d` (a container racing in a shared volume).
  await fs.symlink(outside, path.join(dst, 'd'));
  await assert.rejects(copy(src, dst), { code: 'EEXIST' });
  assert.deepEqual(await fs.readdir(outside), [], 'nothing was written through the symlink');
});
