import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Htpasswd, htpasswdLine } from './htpasswd';

test('htpasswd: bcrypt lines verify the right password only, comments and blank lines ignored', async () => {
  const alice = await htpasswdLine('alice', 's3cret', 4);
  // htpasswd -B writes $2y$: the same algorithm under another prefix.
  const bob = (await htpasswdLine('bob', 'hunter2', 4)).replace('$2b$', '$2y$');
  const file = Htpasswd.parse(`# users\n\n${alice}\r\n${bob}\n`);
  assert.deepEqual(file.users, ['alice', 'bob']);
  assert.equal(await file.verify('alice', 's3cret'), true);
  assert.equal(await file.verify('alice', 'S3cret'), false);
  assert.equal(await file.verify('bob', 'hunter2'), true);
  assert.equal(await file.verify('carol', 's3cret'), false);
  assert.equal(await file.verify('alice', ''), false);
});

test('htpasswd: non-bcrypt hashes, malformed and duplicate lines are refused with file and line', async () => {
  assert.throws(() => Htpasswd.parse('alice:$apr1$abcdefgh$0123456789abcdefghijkl\n', 'users'), /users:1: the password of user "alice" is not a bcrypt hash/);
  assert.throws(() => Htpasswd.parse('# x\nalice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=', 'users'), /users:2: .*not a bcrypt hash/);
  assert.throws(() => Htpasswd.parse('just-a-name\n', 'users'), /users:1: expected "user:bcrypt-hash"/);
  const line = await htpasswdLine('alice', 'x', 4);
  assert.throws(() => Htpasswd.parse(`${line}\n${line}\n`, 'users'), /users:2: user "alice" is listed twice/);
  await assert.rejects(htpasswdLine('a:b', 'x', 4), /invalid user name "a:b"/);
});

test('htpasswd: load names a missing file', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-htpasswd-'));
  try {
    await assert.rejects(Htpasswd.load(path.join(dir, 'nope')), /cannot read htpasswd file .*nope/);
    await fs.writeFile(path.join(dir, 'users'), (await htpasswdLine('alice', 'pw', 4)) + '\n');
    assert.equal(await (await Htpasswd.load(path.join(dir, 'users'))).verify('alice', 'pw'), true);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('htpasswd: a verified login is remembered (one bcrypt comparison), a wrong password or another user never is', async (t) => {
  const file = Htpasswd.parse(`${await htpasswdLine('alice', 's3cret', 4)}\n${await htpasswdLine('bob', 'hunter2', 4)}\n`);
  const compare = t.mock.method(bcrypt, 'compare');
  assert.equal(await file.verify('alice', 's3cret'), true);
  assert.equal(await file.verify('alice', 's3cret'), true);
  assert.equal(await file.verify('alice', 's3cret'), true);
  assert.equal(compare.mock.callCount(), 1, 'compared once');
  assert.equal(await file.verify('alice', 's3cretX'), false);
  assert.equal(await file.verify('alice', 'hunter2'), false);
  assert.equal(await file.verify('bob', 's3cret'), false);
  assert.equal(await file.verify('alices3cret', ''), false);
  assert.equal(compare.mock.callCount(), 5, 'every failure is compared');
  // The file re-read with a new password: the old one is not remembered there.
  const reloaded = Htpasswd.parse(`${await htpasswdLine('alice', 'new', 4)}\n`);
  assert.equal(await reloaded.verify('alice', 's3cret'), false);
  assert.equal(await reloaded.verify('alice', 'new'), true);
});
