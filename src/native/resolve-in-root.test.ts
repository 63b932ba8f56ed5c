import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from './index';

let root: string;
let outside: string;

before(() => {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-rir-')));
  root = path.join(base, 'root');
  outside = path.join(base, 'outside');
  fs.mkdirSync(path.join(root, 'a', 'b', 'c'), { recursive: true });
  fs.mkdirSync(path.join(root, 'etc'));
  fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'inside\n');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret'), 'outside\n');
  fs.writeFileSync(path.join(root, 'file'), 'x');
  fs.symlinkSync('/etc', path.join(root, 'abs-etc'));
  fs.symlinkSync('../../..', path.join(root, 'a', 'b', 'up3'));
  fs.symlinkSync('../../../../../../..', path.join(root, 'a', 'b', 'c', 'way-up'));
  fs.symlinkSync('../outside', path.join(root, 'rel-out'));
  fs.symlinkSync(outside, path.join(root, 'abs-out'));
  fs.symlinkSync('hop2', path.join(root, 'hop1'));
  fs.symlinkSync('a/b/up3/hop3', path.join(root, 'hop2'));
  fs.symlinkSync('/../../abs-etc', path.join(root, 'hop3'));
  fs.symlinkSync('/nonexistent/dir', path.join(root, 'dangling'));
  fs.symlinkSync('../../../../etc/shadow-new', path.join(root, 'a', 'dangling-rel'));
  fs.symlinkSync('loop2', path.join(root, 'loop1'));
  fs.symlinkSync('loop1', path.join(root, 'loop2'));
  fs.symlinkSync('/proc/self/root', path.join(root, 'magic'));
});

after(() => fs.rmSync(path.dirname(root), { recursive: true, force: true }));

const cases: Array<[string, string]> = [
  ['/', ''],
  ['', ''],
  ['a/b/c', '/a/b/c'],
  ['/a/b/c/', '/a/b/c'],
  ['../../etc/passwd', '/etc/passwd'],
  ['/abs-etc/passwd', '/etc/passwd'],
  ['abs-etc', '/etc'],
  ['a/b/up3/etc/passwd', '/etc/passwd'],
  ['a/b/c/way-up/etc', '/etc'],
  ['rel-out/secret', '/outside/secret'],
  ['abs-out/secret', '<outside>/secret'],
  ['hop1/passwd', '/etc/passwd'],
  ['missing', '/missing'],
  ['a/b/missing', '/a/b/missing'],
  ['abs-etc/new-file', '/etc/new-file'],
  ['missing/deeper/x', '/missing/deeper/x'],
  ['dangling', '/nonexistent/dir'],
  ['dangling/child', '/nonexistent/dir/child'],
  ['a/dangling-rel', '/etc/shadow-new'],
  ['a/./b/../b/c', '/a/b/c'],
];

for (const [name, resolve] of [
  ['openat2', native.resolveInRoot],
  ['userspace', native.resolveInRootUserspace],
] as const) {
  test(`${name}: paths stay inside root`, () => {
    for (const [input, expected] of cases) {
      // An absolute symlink to a host dir lands on the same path under root (missing there).
      const want = root + expected.replace('<outside>', outside);
      assert.equal(resolve(root, input), want, `resolveInRoot(root, ${JSON.stringify(input)})`);
    }
  });

  test(`${name}: refuses . and .. after a missing component`, () => {
    for (const input of ['missing/..', 'missing/../../etc', 'missing/.']) {
      assert.throws(() => resolve(root, input), { code: 'ENOENT' }, input);
    }
  });

  test(`${name}: symlink loops and non-directories fail`, () => {
    assert.throws(() => resolve(root, 'loop1'), { code: 'ELOOP' });
    assert.throws(() => resolve(root, 'file/x'), { code: 'ENOTDIR' });
  });

  test(`${name}: every result is under root`, () => {
    for (const input of ['..', '../..', 'abs-out', 'rel-out', 'a/b/c/way-up', 'hop1', 'hop3', 'abs-etc/../..']) {
      const result = resolve(root, input);
      assert.ok(result === root || result.startsWith(root + '/'), `${input} -> ${result}`);
    }
  });
}

test('magic links are not followed out of root', () => {
  // Inside root, /proc/self/root is just a missing path; with / as root it is a real magic link.
  assert.equal(native.resolveInRoot(root, 'magic/etc'), root + '/proc/self/root/etc');
  assert.throws(() => native.resolveInRoot('/', 'proc/self/root/etc'), { code: 'ELOOP' });
});

test('errors look like Node fs errors', () => {
  assert.throws(() => native.resolveInRoot(path.join(root, 'nope'), 'x'), (err: NodeJS.ErrnoException) => {
    assert.ok(err instanceof Error);
    assert.equal(err.code, 'ENOENT');
    assert.equal(err.errno, -2);
    assert.equal(err.syscall, 'open');
    assert.equal(err.path, path.join(root, 'nope'));
    assert.equal(err.message, `ENOENT: no such file or directory, open '${path.join(root, 'nope')}'`);
    return true;
  });
});
