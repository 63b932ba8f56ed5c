import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planArchiveCopy, rebaseEntryName, splitCpArg, splitPathDirEntry } from './cp-paths';

test('splitCpArg', () => {
  assert.deepEqual(splitCpArg('web:/etc/passwd'), { container: 'web', path: '/etc/passwd' });
  assert.deepEqual(splitCpArg('/abs/a:b'), { path: '/abs/a:b' });
  assert.deepEqual(splitCpArg('./x:y'), { path: './x:y' });
  assert.deepEqual(splitCpArg('local'), { path: 'local' });
  assert.deepEqual(splitCpArg('-'), { path: '-' });
});

test('splitPathDirEntry keeps a trailing /. as base "."', () => {
  assert.deepEqual(splitPathDirEntry('/a/b'), { dir: '/a', base: 'b' });
  assert.deepEqual(splitPathDirEntry('/a/b/'), { dir: '/a', base: 'b' });
  assert.deepEqual(splitPathDirEntry('/a/b/.'), { dir: '/a/b', base: '.' });
});

test('PrepareArchiveCopy cases', () => {
  assert.deepEqual(planArchiveCopy({ path: '/s/f', isDir: false }, { path: '/d', exists: true, isDir: true }), { ok: true, dir: '/d' });
  assert.deepEqual(planArchiveCopy({ path: '/s/dir', isDir: true }, { path: '/d/f', exists: true, isDir: false }), { ok: false, error: 'cannot copy directory' });
  assert.deepEqual(planArchiveCopy({ path: '/s/f', isDir: false }, { path: '/d/g', exists: true, isDir: false }), { ok: true, dir: '/d', rebase: { from: 'f', to: 'g' } });
  assert.deepEqual(planArchiveCopy({ path: '/s/dir', isDir: true }, { path: '/d/new', exists: false, isDir: false }), { ok: true, dir: '/d', rebase: { from: 'dir', to: 'new' } });
  assert.deepEqual(planArchiveCopy({ path: '/s/dir/.', isDir: true }, { path: '/d/new', exists: false, isDir: false }), { ok: true, dir: '/d', rebase: { from: '.', to: 'new' } });
  assert.deepEqual(planArchiveCopy({ path: '/s/f', isDir: false }, { path: '/d/new/', exists: false, isDir: false }), { ok: false, error: 'no such directory' });
  assert.deepEqual(planArchiveCopy({ path: '/s/link', isDir: false, rebaseName: 'link' }, { path: '/d/x', exists: false, isDir: false }), { ok: true, dir: '/d', rebase: { from: 'link', to: 'x' } });
});

test('rebaseEntryName', () => {
  assert.equal(rebaseEntryName('dir', 'dir', 'new'), 'new');
  assert.equal(rebaseEntryName('dir/', 'dir', 'new'), 'new/');
  assert.equal(rebaseEntryName('dir/a/b', 'dir', 'new'), 'new/a/b');
  assert.equal(rebaseEntryName('dirx/a', 'dir', 'new'), 'dirx/a');
  assert.equal(rebaseEntryName('./', '.', 'new'), 'new/');
  assert.equal(rebaseEntryName('./a', '.', 'new'), 'new/a');
});
