import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { native } from './index';
import { needsRoot } from '../../test/helpers/root';

/** A root-owned copy of static busybox (an ELF executable) in a temp dir. */
function withExecutable(body: (file: string, dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-sealed-'));
    const file = path.join(dir, 'busybox');
    fs.copyFileSync('/bin/busybox', file);
    fs.chmodSync(file, 0o755);
    try {
      await body(file, dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

const skip = needsRoot('needs root (root-owned binaries)') || (fs.existsSync('/bin/busybox') ? false : 'busybox-static not installed');

test('sealedCopy: a memfd named after the file, at fd >= 10, that nobody can write, resize or hand to a child', { skip }, withExecutable(async (file) => {
  const copy = await native.sealedCopy!(file);
  try {
    const st = fs.statSync(file, { bigint: true });
    assert.deepEqual(
      { dev: copy.dev, ino: copy.ino, size: copy.size, mtimeNs: copy.mtimeNs, ctimeNs: copy.ctimeNs },
      { dev: String(st.dev), ino: String(st.ino), size: Number(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) },
    );
    assert.ok(copy.fd >= 10);
    assert.equal(fs.readlinkSync(`/proc/self/fd/${copy.fd}`), '/memfd:busybox (deleted)');
    assert.ok(fs.readFileSync(`/proc/self/fd/${copy.fd}`).equals(fs.readFileSync(file)), 'the same bytes');
    // Reopened read-write through /proc (as a container would try with /proc/<pid>/exe): the seals hold.
    const rw = fs.openSync(`/proc/self/fd/${copy.fd}`, 'r+');
    try {
      assert.throws(() => fs.writeSync(rw, 'x', 0), { code: 'EPERM' });
      assert.throws(() => fs.ftruncateSync(rw, 0), { code: 'EPERM' });
      assert.throws(() => fs.writeSync(rw, 'x', copy.size), { code: 'EPERM' });
    } finally {
      fs.closeSync(rw);
    }
    // Close-on-exec: a child does not get it.
    assert.equal(execFileSync('/bin/sh', ['-c', `test -e /proc/self/fd/${copy.fd} && echo inherited || echo closed`]).toString().trim(), 'closed');
  } finally {
    fs.closeSync(copy.fd);
  }
}));

test('sealedCopy: spawnReady hands it over as fd 4', { skip }, withExecutable(async (file) => {
  const copy = await native.sealedCopy!(file);
  try {
    const r = await native.spawnReady!(['/bin/sh', '-c', 'readlink /proc/self/fd/4 >&3'], null, 5000, copy.fd);
    assert.equal(r.sync.trim(), '/memfd:busybox (deleted)');
    assert.throws(() => native.spawnReady!(['/bin/true'], null, 5000, 3), { code: 'ERR_INVALID_ARG_TYPE' });
  } finally {
    fs.closeSync(copy.fd);
  }
}));

test('sealedCopy refuses a file that is not root-owned, is writable by group or others, is not ELF, or is missing', { skip }, withExecutable(async (file, dir) => {
  fs.chmodSync(file, 0o775);
  await assert.rejects(native.sealedCopy!(file), { code: 'EPERM', message: /writable by group or others/ });
  fs.chmodSync(file, 0o757);
  await assert.rejects(native.sealedCopy!(file), { code: 'EPERM', message: /writable by group or others/ });
  fs.chmodSync(file, 0o755);
  fs.chownSync(file, 1000, 0);
  await assert.rejects(native.sealedCopy!(file), { code: 'EPERM', message: /not owned by root/ });
  const script = path.join(dir, 'script');
  fs.writeFileSync(script, '#!/bin/sh\necho hi\n', { mode: 0o755 });
  await assert.rejects(native.sealedCopy!(script), { code: 'ENOEXEC', message: /not an ELF executable/ });
  await assert.rejects(native.sealedCopy!(dir), { code: 'EINVAL', message: /not a regular file/ });
  await assert.rejects(native.sealedCopy!(path.join(dir, 'missing')), { code: 'ENOENT' });
}));
