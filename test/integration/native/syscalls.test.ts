import { needsRoot } from '../../helpers/root';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native, MountFlags, UnmountFlags } from '../../../src/native';

const isRoot = process.getuid?.() === 0;
const skip = needsRoot('needs root');
let dir: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-sys-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('mknod makes an overlay whiteout (char 0/0)', { skip }, () => {
  const file = path.join(dir, 'wh');
  native.mknod(file, fs.constants.S_IFCHR | 0o600, 0, 0);
  const st = fs.lstatSync(file);
  assert.ok(st.isCharacterDevice());
  assert.equal(st.rdev, 0);
  assert.throws(() => native.mknod(file, fs.constants.S_IFCHR | 0o600, 0, 0), { code: 'EEXIST', syscall: 'mknod', path: file });
});

test('mknod makes a device with major/minor', { skip }, () => {
  const file = path.join(dir, 'null');
  native.mknod(file, fs.constants.S_IFCHR | 0o666, 1, 3);
  assert.equal(fs.lstatSync(file).rdev, (1 << 8) | 3);
});

test('trusted xattrs round trip, absent is undefined, symlinks are not followed', { skip }, () => {
  const sub = path.join(dir, 'opaque');
  fs.mkdirSync(sub);
  assert.equal(native.lgetxattr(sub, 'trusted.overlay.opaque'), undefined);
  native.lsetxattr(sub, 'trusted.overlay.opaque', Buffer.from('y'));
  native.lsetxattr(sub, 'trusted.berth.empty', Buffer.alloc(0));
  assert.deepEqual(native.lgetxattr(sub, 'trusted.overlay.opaque'), Buffer.from('y'));
  assert.deepEqual(native.lgetxattr(sub, 'trusted.berth.empty'), Buffer.alloc(0));
  const names = native.llistxattr(sub);
  assert.ok(names.includes('trusted.overlay.opaque'));
  assert.ok(names.includes('trusted.berth.empty'));
  const link = path.join(dir, 'link-to-opaque');
  fs.symlinkSync(sub, link);
  assert.equal(native.lgetxattr(link, 'trusted.overlay.opaque'), undefined);
  assert.throws(() => native.lgetxattr(path.join(dir, 'missing'), 'trusted.x'), { code: 'ENOENT', syscall: 'lgetxattr' });
});

test('tmpfs mount and umount', { skip }, () => {
  const target = path.join(dir, 'tmpfs');
  fs.mkdirSync(target);
  native.mount('tmpfs', target, 'tmpfs', MountFlags.MS_NOSUID | MountFlags.MS_NODEV, 'size=1m,mode=700');
  try {
    assert.equal(fs.statSync(target).mode & 0o777, 0o700);
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    assert.ok(mounts.includes(` ${target} `));
    fs.writeFileSync(path.join(target, 'f'), 'x');
  } finally {
    native.umount(target, 0);
  }
  assert.ok(!fs.existsSync(path.join(target, 'f')));
  assert.throws(() => native.umount(target, 0), { code: 'EINVAL', syscall: 'umount', path: target });
});

test('bind mount, read-only remount, detach', { skip }, () => {
  const source = path.join(dir, 'bind-src');
  const target = path.join(dir, 'bind-dst');
  fs.mkdirSync(source);
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(source, 'hello'), 'hi');
  native.mount(source, target, '', MountFlags.MS_BIND, '');
  try {
    assert.equal(fs.readFileSync(path.join(target, 'hello'), 'utf8'), 'hi');
    native.mount('', target, '', MountFlags.MS_BIND | MountFlags.MS_REMOUNT | MountFlags.MS_RDONLY, '');
    assert.throws(() => fs.writeFileSync(path.join(target, 'new'), 'x'), { code: 'EROFS' });
  } finally {
    native.umount(target, UnmountFlags.MNT_DETACH);
  }
  assert.ok(!fs.existsSync(path.join(target, 'hello')));
});

test('mount errors carry errno details and Node-style messages', () => {
  const missing = path.join(dir, 'no-such-dir');
  assert.throws(() => native.mount('tmpfs', missing, 'tmpfs', 0, ''), (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, isRoot ? 'ENOENT' : 'EPERM');
    assert.equal(err.syscall, 'mount');
    assert.equal(err.path, missing);
    assert.match(err.message, /^E[A-Z]+: [a-z].*, mount '.*no-such-dir'$/);
    return true;
  });
});

test('bad arguments throw TypeError', () => {
  assert.throws(() => native.umount(42 as unknown as string, 0), TypeError);
  assert.throws(() => native.lsetxattr(dir, 'trusted.x', 'str' as unknown as Buffer), TypeError);
  assert.throws(() => native.resolveInRoot(dir, 'a\0b'), TypeError);
});
