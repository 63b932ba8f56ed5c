import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { archivePath, closeFd, exportRootfs, extractArchive, openHostDir, statPath } from '../../../src/archive';
import { tarStreamOf } from '../../../src/archive/tar/test-tar';
import { isInvalidArgument, isNotFound } from '../../../src/errors';

async function container(t: { after(fn: () => Promise<void>): void }): Promise<{ root: string; rootFd: number; outside: string }> {
  const top = await fs.mkdtemp(path.join(os.tmpdir(), 'ba-'));
  t.after(() => fs.rm(top, { recursive: true, force: true }));
  const root = path.join(top, 'root');
  const outside = path.join(top, 'outside');
  await fs.mkdir(path.join(root, 'etc'), { recursive: true });
  await fs.mkdir(path.join(root, 'tmp'));
  await fs.mkdir(outside);
  await fs.writeFile(path.join(root, 'etc/hostname'), 'box\n');
  await fs.utimes(path.join(root, 'etc/hostname'), 1_700_000_000.5, 1_700_000_000.5);
  await fs.symlink('/etc/hostname', path.join(root, 'hn'));
  await fs.symlink('/', path.join(root, 'tmp/up')); // resolves to the container root, not the host's
  await fs.symlink(outside, path.join(root, 'tmp/abs'));
  const rootFd = openHostDir(root);
  t.after(async () => closeFd(rootFd));
  return { root, rootFd, outside };
}

async function names(tar: Readable): Promise<string[]> {
  const ex = tarStream.extract();
  tar.pipe(ex as unknown as NodeJS.WritableStream);
  const out: string[] = [];
  for await (const entry of ex) {
    out.push(entry.header.name);
    entry.resume();
  }
  return out;
}

test('statPath reports Docker PathStat fields', async (t) => {
  const { rootFd } = await container(t);
  const file = statPath(rootFd, 'etc/hostname');
  assert.deepEqual(file, { name: 'hostname', size: 4, mode: 0o644, mtime: '2023-11-14T22:13:20.5Z', linkTarget: '' });
  const dir = statPath(rootFd, '/etc');
  assert.equal(dir.mode, 2 ** 31 + 0o755);
  const link = statPath(rootFd, '/hn');
  assert.equal(link.mode, 2 ** 27 + 0o777);
  assert.equal(link.linkTarget, '/etc/hostname');
  assert.equal(statPath(rootFd, '/tmp/up/etc/hostname').name, 'hostname');
  assert.throws(() => statPath(rootFd, '/nope'), (err: unknown) => isNotFound(err) && (err as Error).message === '/nope');
});

test('archivePath tars a path under its base name', async (t) => {
  const { rootFd } = await container(t);
  assert.deepEqual(await names(archivePath(rootFd, '/etc')), ['etc/', 'etc/hostname']);
  assert.deepEqual(await names(archivePath(rootFd, '/etc/.')), ['./', './hostname']);
  assert.deepEqual(await names(archivePath(rootFd, '/hn')), ['hn']);
  assert.deepEqual(await names(archivePath(rootFd, '/tmp/up/etc/hostname')), ['hostname']);
  assert.throws(() => archivePath(rootFd, '/missing'), (err: unknown) => isNotFound(err));
});

test('extractArchive stays inside the container root', async (t) => {
  const { root, rootFd, outside } = await container(t);
  await extractArchive(rootFd, '/tmp', tarStreamOf([{ name: 'new/file', body: 'x', uid: 1234 }, { name: 'up/etc/via-link', body: 'y' }, { name: 'abs/pwned', body: 'z' }]));
  const st = await fs.lstat(path.join(root, 'tmp/new/file'));
  assert.equal(st.uid, 0, 'owned by root unless copyUIDGID');
  assert.equal(await fs.readFile(path.join(root, 'etc/via-link'), 'utf8'), 'y');
  assert.deepEqual(await fs.readdir(outside), []);
  assert.equal(await fs.readFile(path.join(root, outside, 'pwned'), 'utf8'), 'z');

  await extractArchive(rootFd, '/tmp/abs', tarStreamOf([{ name: 'f2', body: 'w', uid: 42 }]), { copyUIDGID: true });
  assert.deepEqual(await fs.readdir(outside), []);
  assert.equal((await fs.lstat(path.join(root, outside, 'f2'))).uid, 42);

  await assert.rejects(extractArchive(rootFd, '/tmp', tarStreamOf([{ name: '../../../escape', body: 'e' }])), (err: unknown) => isInvalidArgument(err));
  await assert.rejects(extractArchive(rootFd, '/tmp', tarStreamOf([{ name: 'h', type: 'link', linkname: '../../../../etc/passwd' }])), (err: unknown) => isInvalidArgument(err));
  await assert.rejects(extractArchive(rootFd, '/etc/hostname', tarStreamOf([{ name: 'a', body: 'a' }])), /not a directory/);
  await assert.rejects(extractArchive(rootFd, '/none', tarStreamOf([{ name: 'a', body: 'a' }])), (err: unknown) => isNotFound(err));
  await assert.rejects(extractArchive(rootFd, '/', tarStreamOf([{ name: 'etc', body: 'a' }]), { noOverwriteDirNonDir: true }), /cannot overwrite directory/);
});

test('exportRootfs tars the whole tree', async (t) => {
  const { rootFd } = await container(t);
  assert.deepEqual(await names(exportRootfs(rootFd)), ['etc/', 'etc/hostname', 'hn', 'tmp/', 'tmp/abs', 'tmp/up']);
});
