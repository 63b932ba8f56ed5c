import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extractLayer } from './extract';
import { tarStreamOf } from './test-tar';
import { native } from '../../native';
import { isInvalidArgument } from '../../errors';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bx-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

test('extracts files, dirs, links, devices and metadata', async (t) => {
  const dest = await tempDir(t);
  const { size } = await extractLayer(
    tarStreamOf([
      { name: 'etc/', type: 'directory', mode: 0o750, uid: 5, gid: 6, mtime: 1_600_000_000 },
      { name: 'etc/passwd', body: 'root:x:0:0\n', mode: 0o4755, uid: 1000, gid: 1001, mtime: 1_600_000_001 },
      { name: 'etc/hard', type: 'link', linkname: 'etc/passwd' },
      { name: 'abs-link', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'pipe', type: 'fifo', mode: 0o600 },
      { name: 'x', body: 'xa', pax: [['SCHILY.xattr.user.berth', Buffer.from('v1')]] },
    ]),
    dest,
    { whiteouts: 'none' },
  );
  assert.equal(size, 13);
  const passwd = await fs.lstat(path.join(dest, 'etc/passwd'));
  assert.equal(passwd.mode & 0o7777, 0o4755);
  assert.equal(passwd.uid, 1000);
  assert.equal(passwd.gid, 1001);
  assert.equal(Math.floor(passwd.mtimeMs / 1000), 1_600_000_001);
  assert.equal(passwd.nlink, 2);
  assert.equal((await fs.lstat(path.join(dest, 'etc/hard'))).ino, passwd.ino);
  const etc = await fs.lstat(path.join(dest, 'etc'));
  assert.equal(etc.mode & 0o7777, 0o750);
  assert.equal(Math.floor(etc.mtimeMs / 1000), 1_600_000_000, 'dir mtime is set after its children');
  assert.equal(await fs.readlink(path.join(dest, 'abs-link')), '/etc/passwd');
  const nul = await fs.lstat(path.join(dest, 'dev/null'));
  assert.ok(nul.isCharacterDevice());
  assert.equal(nul.rdev, (1 << 8) | 3);
  assert.ok((await fs.lstat(path.join(dest, 'pipe'))).isFIFO());
  assert.deepEqual(native.lgetxattr(path.join(dest, 'x'), 'user.berth'), Buffer.from('v1'));
});

test('refuses .. above the destination, naming the entry', async (t) => {
  const dest = await tempDir(t);
  for (const name of ['../escape', 'a/../../escape']) {
    await assert.rejects(extractLayer(tarStreamOf([{ name, body: 'x' }]), dest, { whiteouts: 'none' }), (err: unknown) => {
      assert.ok(isInvalidArgument(err));
      assert.match((err as Error).message, /escape/);
      return true;
    });
  }
  await assert.rejects(fs.access(path.join(path.dirname(dest), 'escape')));
});

test('confines absolute names', async (t) => {
  const dest = await tempDir(t);
  await extractLayer(tarStreamOf([{ name: '/abs/file', body: 'x' }, { name: 'a/./b/../c', body: 'y' }]), dest, { whiteouts: 'none' });
  assert.equal(await fs.readFile(path.join(dest, 'abs/file'), 'utf8'), 'x');
  assert.equal(await fs.readFile(path.join(dest, 'a/c'), 'utf8'), 'y');
});

test('a symlink from an earlier entry cannot redirect a later file outside', async (t) => {
  const dest = await tempDir(t);
  const outside = await tempDir(t);
  await extractLayer(
    tarStreamOf([
      { name: 'evil', type: 'symlink', linkname: outside },
      { name: 'evil/pwned', body: 'x' },
      { name: 'rel', type: 'symlink', linkname: '../../../../../../..' + outside },
      { name: 'rel/pwned2', body: 'y' },
    ]),
    dest,
    { whiteouts: 'none' },
  );
  assert.deepEqual(await fs.readdir(outside), []);
  assert.equal(await fs.readFile(path.join(dest, outside, 'pwned'), 'utf8'), 'x');
  assert.equal(await fs.readFile(path.join(dest, outside, 'pwned2'), 'utf8'), 'y');
});

test('hardlinks must point inside the destination', async (t) => {
  const dest = await tempDir(t);
  const outside = await tempDir(t);
  const secret = path.join(outside, 'secret');
  await fs.writeFile(secret, 's');
  await assert.rejects(
    extractLayer(tarStreamOf([{ name: 'h', type: 'link', linkname: '../../../../../..' + secret }]), dest, { whiteouts: 'none' }),
    (err: unknown) => isInvalidArgument(err) && /"h"/.test((err as Error).message),
  );
  await assert.rejects(
    extractLayer(tarStreamOf([{ name: 's', type: 'symlink', linkname: outside }, { name: 'h2', type: 'link', linkname: 's/secret' }]), dest, { whiteouts: 'none' }),
  );
  assert.equal((await fs.stat(secret)).nlink, 1);
});

test('whiteouts in overlay form', async (t) => {
  const dest = await tempDir(t);
  await extractLayer(
    tarStreamOf([
      { name: 'd/', type: 'directory' },
      { name: 'd/.wh..wh..opq' },
      { name: 'd/kept', body: 'k' },
      { name: '.wh.gone', mtime: 1_600_000_000 },
      { name: '.wh..wh.plnk' },
    ]),
    dest,
    { whiteouts: 'overlay' },
  );
  const gone = await fs.lstat(path.join(dest, 'gone'));
  assert.ok(gone.isCharacterDevice());
  assert.equal(gone.rdev, 0);
  assert.equal(gone.mtimeMs, 1_600_000_000_000, 'a whiteout keeps the tar time, so a copied layer packs to the same diff ID');
  assert.deepEqual(native.lgetxattr(path.join(dest, 'd'), 'trusted.overlay.opaque'), Buffer.from('y'));
  assert.deepEqual((await fs.readdir(dest)).sort(), ['d', 'gone']);
  assert.deepEqual(await fs.readdir(path.join(dest, 'd')), ['kept']);
});

test('whiteouts applied to a live tree delete paths', async (t) => {
  const dest = await tempDir(t);
  await fs.mkdir(path.join(dest, 'd/sub'), { recursive: true });
  await fs.writeFile(path.join(dest, 'd/old'), 'o');
  await fs.writeFile(path.join(dest, 'gone'), 'g');
  await extractLayer(
    tarStreamOf([{ name: 'd/', type: 'directory' }, { name: 'd/new', body: 'n' }, { name: 'd/.wh..wh..opq' }, { name: '.wh.gone' }]),
    dest,
    { whiteouts: 'apply' },
  );
  assert.deepEqual(await fs.readdir(dest), ['d']);
  assert.deepEqual(await fs.readdir(path.join(dest, 'd')), ['new']);
});

test("whiteouts are refused in 'none' mode", async (t) => {
  const dest = await tempDir(t);
  await assert.rejects(extractLayer(tarStreamOf([{ name: 'a/.wh.b' }]), dest, { whiteouts: 'none' }), (err: unknown) => isInvalidArgument(err));
});

test('replaces existing entries, unless noOverwriteDirNonDir', async (t) => {
  const dest = await tempDir(t);
  await fs.mkdir(path.join(dest, 'was-dir/child'), { recursive: true });
  await fs.writeFile(path.join(dest, 'was-file'), 'f');
  await extractLayer(tarStreamOf([{ name: 'was-dir', body: 'now a file' }, { name: 'was-file/', type: 'directory' }]), dest, { whiteouts: 'none' });
  assert.equal(await fs.readFile(path.join(dest, 'was-dir'), 'utf8'), 'now a file');
  assert.ok((await fs.lstat(path.join(dest, 'was-file'))).isDirectory());
  await assert.rejects(
    extractLayer(tarStreamOf([{ name: 'was-file', body: 'x' }]), dest, { whiteouts: 'none', noOverwriteDirNonDir: true }),
    /cannot overwrite directory/,
  );
});

test('extracts under a subdirectory confined to a root, with an owner override', async (t) => {
  const root = await tempDir(t);
  await fs.mkdir(path.join(root, 'real'));
  await fs.symlink('/real', path.join(root, 'link'));
  await extractLayer(tarStreamOf([{ name: 'f', body: 'x', uid: 7 }, { name: 'up/../g', body: 'y' }]), path.join(root, 'real'), {
    whiteouts: 'apply',
    root,
    chownTo: { uid: 3, gid: 4 },
  });
  const st = await fs.lstat(path.join(root, 'real/f'));
  assert.equal(st.uid, 3);
  assert.equal(st.gid, 4);
  await assert.rejects(extractLayer(tarStreamOf([{ name: '../esc', body: 'x' }]), path.join(root, 'real'), { whiteouts: 'apply', root }));
});

test('absolute and symlinked hardlink targets resolve inside the destination, never to the host', async (t) => {
  const dest = await tempDir(t);
  const outside = await tempDir(t);
  const secret = path.join(outside, 'secret');
  await fs.writeFile(secret, 's');
  // An absolute target names a path inside dest, which does not exist there.
  await assert.rejects(
    extractLayer(tarStreamOf([{ name: 'h', type: 'link', linkname: secret }]), dest, { whiteouts: 'none' }),
    (err: unknown) => isInvalidArgument(err) && /does not exist/.test((err as Error).message),
  );
  // Through a symlink to `/` (the destination's root) and a relative one climbing out.
  await assert.rejects(
    extractLayer(
      tarStreamOf([{ name: 'root', type: 'symlink', linkname: '/' }, { name: 'h', type: 'link', linkname: `root${secret}` }]),
      dest,
      { whiteouts: 'none' },
    ),
    (err: unknown) => isInvalidArgument(err),
  );
  await assert.rejects(
    extractLayer(tarStreamOf([{ name: 'up', type: 'symlink', linkname: '../../../../../..' }, { name: 'h2', type: 'link', linkname: `up${secret}` }]), dest, {
      whiteouts: 'none',
    }),
    (err: unknown) => isInvalidArgument(err),
  );
  assert.equal((await fs.stat(secret)).nlink, 1);
  // A hardlink to a symlink links the symlink itself; it is not followed out.
  await extractLayer(tarStreamOf([{ name: 'ln', type: 'symlink', linkname: secret }, { name: 'h3', type: 'link', linkname: 'ln' }]), dest, { whiteouts: 'none' });
  assert.equal(await fs.readlink(path.join(dest, 'h3')), secret);
  assert.equal((await fs.stat(secret)).nlink, 1);
});

test('symlinks in parents, chains and existing entries never lead a write or a chmod outside', async (t) => {
  const dest = await tempDir(t);
  const outside = await tempDir(t);
  await fs.writeFile(path.join(outside, 'file'), 'host', { mode: 0o600 });
  const before = await fs.lstat(path.join(outside, 'file'));
  // Existing entries that point out: replaced, never written through or chmod'ed.
  await fs.symlink(path.join(outside, 'file'), path.join(dest, 'victim'));
  await fs.symlink(outside, path.join(dest, 'dirlink'));
  await extractLayer(
    tarStreamOf([
      { name: 'victim', body: 'mine', mode: 0o777 },
      { name: 'dirlink/', type: 'directory', mode: 0o777 },
      { name: 'dirlink/new', body: 'n' },
      // A chain: a → b → ../../.. ; a/x must stay inside dest.
      { name: 'b', type: 'symlink', linkname: '../../..' },
      { name: 'a', type: 'symlink', linkname: 'b' },
      { name: 'a/x', body: 'x' },
      { name: 'fifo-over-link', type: 'symlink', linkname: path.join(outside, 'file') },
      { name: 'fifo-over-link', type: 'fifo', mode: 0o777 },
    ]),
    dest,
    { whiteouts: 'none' },
  );
  assert.deepEqual(await fs.readdir(outside), ['file']);
  const after = await fs.lstat(path.join(outside, 'file'));
  assert.equal(after.mode, before.mode);
  assert.equal(await fs.readFile(path.join(outside, 'file'), 'utf8'), 'host');
  assert.equal(await fs.readFile(path.join(dest, 'victim'), 'utf8'), 'mine');
  assert.ok((await fs.lstat(path.join(dest, 'dirlink'))).isDirectory());
  assert.equal(await fs.readFile(path.join(dest, 'x'), 'utf8'), 'x');
  assert.ok((await fs.lstat(path.join(dest, 'fifo-over-link'))).isFIFO());
});

test('whiteouts never delete through a symlink', async (t) => {
  const dest = await tempDir(t);
  const outside = await tempDir(t);
  await fs.writeFile(path.join(outside, 'keep'), 'k');
  await fs.symlink(outside, path.join(dest, 'out'));
  await extractLayer(tarStreamOf([{ name: 'out/.wh.keep' }, { name: 'out/.wh..wh..opq' }]), dest, { whiteouts: 'apply' });
  assert.deepEqual(await fs.readdir(outside), ['keep']);
});
