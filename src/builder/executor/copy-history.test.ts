import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closeFd, openHostDir } from '../../util/fs-at';
import { copySourceHistory, tarsumHeader, tarsumKey, type TarsumHeader } from './copy-history';

/**
 * The expected values are what dockerd 20.10 wrote in the history for the same sources
 * (test/integration/builder/dockerd-parity.test.ts, whose context tar has these headers).
 */
type Entry = { name: string; type: 'file' | 'directory' | 'symlink'; mode: number; content?: string; linkname?: string };

const CONTEXT: Entry[] = [
  { name: 'a.txt', type: 'file', mode: 0o644, content: 'A\n' },
  { name: 'b1.txt', type: 'file', mode: 0o644, content: 'B1\n' },
  { name: 'b2.txt', type: 'file', mode: 0o644, content: 'B22\n' },
  { name: 'dir', type: 'directory', mode: 0o750 },
  { name: 'dir/inner.txt', type: 'file', mode: 0o600, content: 'inner\n' },
  { name: 'dir/sub', type: 'directory', mode: 0o755 },
  { name: 'dir/sub/deep.txt', type: 'file', mode: 0o644, content: 'deep\n' },
  { name: 'dir/rel-link', type: 'symlink', mode: 0o644, linkname: 'inner.txt' },
];

async function withContext(entries: Entry[], fn: (rootFd: number, headers: Map<string, TarsumHeader>) => void): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'copy-history-'));
  const headers = new Map<string, TarsumHeader>();
  try {
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.type === 'directory') await fs.mkdir(p);
      else if (e.type === 'symlink') await fs.symlink(e.linkname ?? '', p);
      else await fs.writeFile(p, e.content ?? '');
      if (e.type !== 'symlink') await fs.chmod(p, e.mode);
      headers.set(tarsumKey(e.name), tarsumHeader({ name: e.name, mode: e.mode, uid: 0, gid: 0, size: e.content?.length ?? 0, type: e.type, linkname: e.linkname }));
    }
    const fd = openHostDir(dir);
    try {
      fn(fd, headers);
    } finally {
      closeFd(fd);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('COPY history from a context tar: file:, dir: (links hashed as their targets) and multi: as dockerd 20.10', async () => {
  await withContext(CONTEXT, (fd, headers) => {
    assert.equal(copySourceHistory(fd, ['a.txt'], 'context', headers, 'none'), 'file:aec08426edefc75f205424b22fe8c93576ea0fd9822f7721f72d73f3aae898ea');
    assert.equal(copySourceHistory(fd, ['dir/'], 'context', headers, 'none'), 'dir:b02f5d371fd215a79c999a2cdbc50c759dec7c1a7fe4b90871cc366f951df709');
    assert.equal(copySourceHistory(fd, ['dir'], 'context', headers, 'none'), 'dir:b02f5d371fd215a79c999a2cdbc50c759dec7c1a7fe4b90871cc366f951df709');
    assert.equal(copySourceHistory(fd, ['a.txt', 'b*.txt'], 'context', headers, 'none'), 'multi:4a57caee2eb73fc0d1873572d25fdd5a7ac164c32671a535392ba0cf833263fc');
  });
});

test('COPY --from history: headers made from the files, with the host user and group names', { skip: process.getuid?.() !== 0 && 'needs root (root-owned files)' }, async () => {
  await withContext([{ name: 'out', type: 'file', mode: 0o640, content: 'built\n' }], (fd) => {
    assert.equal(copySourceHistory(fd, ['/out'], 'stage', undefined, 'host'), 'file:8e8df50574543dda77f4d536c99e1a312dbd12d18b750b5477ad1325101bd2cf');
  });
});

test('tarsum keys: cleaned, relative, without a trailing slash', () => {
  assert.equal(tarsumKey('./dir/'), 'dir');
  assert.equal(tarsumKey('/a/../b'), 'b');
  assert.equal(tarsumKey('./'), '.');
});
