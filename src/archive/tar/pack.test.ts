import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { createHash, randomBytes } from 'node:crypto';
import { digestDirectory, packDirectory, splitDev } from './pack';
import { extractLayer } from './extract';
import { bufferOf, tarStreamOf } from './test-tar';
import { treeSnapshot } from './tree-snapshot';
import { native } from '../../native';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

async function entryNames(tar: Buffer): Promise<string[]> {
  const names: string[] = [];
  const ex = tarStream.extract();
  Readable.from([tar]).pipe(ex as unknown as NodeJS.WritableStream);
  for await (const entry of ex) {
    names.push(`${entry.header.type}:${entry.header.name}${entry.header.linkname ? '->' + entry.header.linkname : ''}`);
    entry.resume();
  }
  return names;
}

const LONG = 'very-long-directory-name-'.repeat(6);
// security.capability v2: effective, permitted = cap_net_raw.
const CAP = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

async function buildTree(dir: string): Promise<void> {
  await extractLayer(
    tarStreamOf([
      { name: 'bin/', type: 'directory', mode: 0o755 },
      { name: 'bin/sh', body: '#!', mode: 0o755, uid: 2, gid: 3 },
      { name: 'bin/ash', type: 'link', linkname: 'bin/sh' },
      { name: 'bin/ping', body: 'ping', mode: 0o755, pax: [['SCHILY.xattr.security.capability', CAP]] },
      { name: 'secret', body: 's', mode: 0 },
      { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
      { name: `${LONG}/ünïcode-ファイル`, body: 'u' },
      { name: 'dev/tty', type: 'character-device', devmajor: 5, devminor: 0, mode: 0o666 },
      { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 1, mode: 0o660 },
      { name: 'run/fifo', type: 'fifo' },
    ]),
    dir,
    { whiteouts: 'none' },
  );
}

test('pack → extract round-trips a tree', async (t) => {
  const src = await tempDir(t);
  const dst = await tempDir(t);
  await buildTree(src);
  await extractLayer(packDirectory(src), dst, { whiteouts: 'none' });
  assert.deepEqual(await treeSnapshot(dst), await treeSnapshot(src));
  assert.equal((await fs.lstat(path.join(dst, 'bin/ash'))).ino, (await fs.lstat(path.join(dst, 'bin/sh'))).ino);
  assert.deepEqual(native.lgetxattr(path.join(dst, 'bin/ping'), 'security.capability'), CAP);
});

test('packing is deterministic and sorted', async (t) => {
  const src = await tempDir(t);
  await buildTree(src);
  const a = await bufferOf(packDirectory(src));
  const b = await bufferOf(packDirectory(src));
  assert.ok(a.equals(b));
  const names = await entryNames(a);
  assert.deepEqual(names.slice(0, 4), ['directory:bin/', 'file:bin/ash', 'file:bin/ping', 'link:bin/sh->bin/ash']);
  assert.ok(names.includes(`file:${LONG}/ünïcode-ファイル`));
});

test('overlay whiteouts become .wh. entries and back', async (t) => {
  const src = await tempDir(t);
  const dst = await tempDir(t);
  await fs.mkdir(path.join(src, 'opq'));
  await fs.writeFile(path.join(src, 'opq/new'), 'n');
  native.lsetxattr(path.join(src, 'opq'), 'trusted.overlay.opaque', Buffer.from('y'));
  native.mknod(path.join(src, 'gone'), 0o020000, 0, 0);
  const tar = await bufferOf(packDirectory(src, { whiteouts: 'overlay-to-wh' }));
  assert.deepEqual(await entryNames(tar), ['file:.wh.gone', 'directory:opq/', 'file:opq/.wh..wh..opq', 'file:opq/new']);
  await extractLayer(Readable.from([tar]), dst, { whiteouts: 'overlay' });
  assert.deepEqual(await treeSnapshot(dst, { mtimes: false }), await treeSnapshot(src, { mtimes: false }));
  assert.deepEqual(native.lgetxattr(path.join(dst, 'opq'), 'trusted.overlay.opaque'), Buffer.from('y'));
});

test('rebaseName and include', async (t) => {
  const src = await tempDir(t);
  await buildTree(src);
  const names = await entryNames(await bufferOf(packDirectory(path.join(src, 'bin'), { rebaseName: 'b', include: (rel) => rel !== 'ping' })));
  assert.deepEqual(names, ['directory:b/', 'file:b/ash', 'link:b/sh->b/ash']);
  const single = await entryNames(await bufferOf(packDirectory(path.join(src, 'lib'), { rebaseName: 'lib' })));
  assert.deepEqual(single, ['symlink:lib->usr/lib']);
});

test('digestDirectory is the sha256 and length of packDirectory\'s tar (whiteouts, links, a file larger than a read chunk)', async (t) => {
  const src = await tempDir(t);
  await buildTree(src);
  await fs.writeFile(path.join(src, 'big'), randomBytes(3 * 1024 * 1024 + 17));
  native.mknod(path.join(src, 'gone'), 0o020000, 0, 0);
  native.lsetxattr(path.join(src, 'bin'), 'trusted.overlay.opaque', Buffer.from('y'));
  for (const opts of [{}, { whiteouts: 'overlay-to-wh' as const }, { rebaseName: 'r', include: (rel: string) => rel !== 'secret' }]) {
    const tar = await bufferOf(packDirectory(src, opts));
    assert.deepEqual(await digestDirectory(src, opts), { digest: `sha256:${createHash('sha256').update(tar).digest('hex')}`, size: tar.length });
  }
});

test('splitDev decodes Linux device numbers', () => {
  assert.deepEqual(splitDev((8 << 8) | 1), { major: 8, minor: 1 });
  assert.deepEqual(splitDev(0x12345678), { major: (0x12345678 >> 8) & 0xfff, minor: (0x78 | ((0x12345678 >> 12) & ~0xff)) });
});
