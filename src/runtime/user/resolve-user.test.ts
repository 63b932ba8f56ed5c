import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { processUser, resolveUser } from './resolve-user';
import { isInvalidArgument } from '../../errors';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/sh
`;
const GROUP = `root:x:0:
daemon:x:1:
wheel:x:10:alice,bob
audio:x:29:alice
alice:x:1000:
`;

async function rootfs(files: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ru-'));
  await fs.mkdir(path.join(dir, 'etc'));
  for (const [name, content] of Object.entries(files)) await fs.writeFile(path.join(dir, 'etc', name), content);
  return dir;
}

test('resolves names, ids, groups like Docker', async (t) => {
  const dir = await rootfs({ passwd: PASSWD, group: GROUP });
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  assert.deepEqual(await resolveUser(dir, ''), { uid: 0, gid: 0, additionalGids: [], home: '/root', name: 'root' });
  assert.deepEqual(await resolveUser(dir, 'alice'), { uid: 1000, gid: 1000, additionalGids: [10, 29], home: '/home/alice', name: 'alice' });
  assert.deepEqual(await resolveUser(dir, '1000'), { uid: 1000, gid: 1000, additionalGids: [10, 29], home: '/home/alice', name: 'alice' });
  assert.deepEqual(await resolveUser(dir, 'alice:wheel'), { uid: 1000, gid: 10, additionalGids: [], home: '/home/alice', name: 'alice' });
  assert.deepEqual(await resolveUser(dir, '4242'), { uid: 4242, gid: 0, additionalGids: [], home: '/' });
  assert.deepEqual(await resolveUser(dir, '4242:4343'), { uid: 4242, gid: 4343, additionalGids: [], home: '/' });
  assert.deepEqual((await resolveUser(dir, 'daemon', ['audio', '77'])).additionalGids, [29, 77]);
  await assert.rejects(resolveUser(dir, 'foo'), (e: unknown) => isInvalidArgument(e) && /unable to find user foo: no matching entries in passwd file/.test(String(e)));
  await assert.rejects(resolveUser(dir, 'alice:nogroup'), /unable to find group nogroup: no matching entries in group file/);
});

test('no passwd file: numeric ids work, names fail', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ru-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  assert.deepEqual(await resolveUser(dir, ''), { uid: 0, gid: 0, additionalGids: [], home: '/' });
  assert.deepEqual(await resolveUser(dir, '5:6'), { uid: 5, gid: 6, additionalGids: [], home: '/' });
  await assert.rejects(resolveUser(dir, 'root'), /unable to find user root/);
});

test('a symlinked /etc/passwd cannot escape the rootfs', async (t) => {
  const outside = await fs.mkdtemp(path.join(os.tmpdir(), 'ru-out-'));
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ru-'));
  t.after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rm(outside, { recursive: true, force: true });
  });
  await fs.writeFile(path.join(outside, 'passwd'), 'evil:x:0:0::/evil:/bin/sh\n');
  await fs.mkdir(path.join(dir, 'etc'));
  // Absolute and relative escapes both resolve inside the root, where no file exists.
  await fs.symlink(path.join(outside, 'passwd'), path.join(dir, 'etc', 'passwd'));
  await assert.rejects(resolveUser(dir, 'evil'), /unable to find user evil/);
  await fs.rm(path.join(dir, 'etc', 'passwd'));
  await fs.symlink(`../../../../../../..${outside}/passwd`, path.join(dir, 'etc', 'passwd'));
  await assert.rejects(resolveUser(dir, 'evil'), /unable to find user evil/);
});

test('the process user starts its supplementary groups with the primary group, as dockerd does', () => {
  assert.deepEqual(processUser({ uid: 1000, gid: 1000, additionalGids: [], home: '/' }), { uid: 1000, gid: 1000, additionalGids: [1000] });
  assert.deepEqual(processUser({ uid: 0, gid: 0, additionalGids: [50, 0], home: '/root' }), { uid: 0, gid: 0, additionalGids: [0, 50] });
});
