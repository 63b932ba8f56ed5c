import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalVolumes } from './local-volumes';
import { native, UnmountFlags } from '../native';
import { needsRoot } from '../../test/helpers/root';

function withRoot(body: (dir: string, volumes: LocalVolumes) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-volumes-'));
    try {
      const volumes = new LocalVolumes(path.join(dir, 'volumes'));
      await volumes.init();
      await body(dir, volumes);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('remove: the data goes with the volume; what a symlink in it points to stays', withRoot(async (dir, volumes) => {
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(path.join(outside, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(outside, 'sub', 'keep'), 'x');
  const data = await volumes.ensure('db');
  fs.mkdirSync(path.join(data, 'a', 'b'), { recursive: true });
  fs.writeFileSync(path.join(data, 'a', 'b', 'row'), 'y');
  // A container can leave links to anywhere on the host in its volume.
  fs.symlinkSync(outside, path.join(data, 'link-to-dir'));
  fs.symlinkSync(path.join(outside, 'sub'), path.join(data, 'a', 'sub'));
  await volumes.remove('db');
  assert.equal(await volumes.get('db'), undefined);
  assert.deepEqual(fs.readdirSync(volumes.root), []);
  assert.equal(fs.readFileSync(path.join(outside, 'sub', 'keep'), 'utf8'), 'x');
}));

test('remove: a volume in use is a conflict and keeps its data', withRoot(async (_dir, volumes) => {
  const data = await volumes.ensure('busy');
  fs.writeFileSync(path.join(data, 'f'), 'z');
  await assert.rejects(volumes.remove('busy', ['web']), { message: 'remove busy: volume is in use - [web]' });
  assert.equal(fs.readFileSync(path.join(data, 'f'), 'utf8'), 'z');
  await assert.rejects(volumes.remove('nothere'), { message: 'get nothere: no such volume' });
}));

test('remove never enters a file system mounted inside the data; init finishes the removal once it is gone', { skip: needsRoot('mounts a tmpfs') }, withRoot(async (_dir, volumes) => {
  const data = await volumes.ensure('mnt');
  const mountPoint = path.join(data, 'm');
  fs.mkdirSync(mountPoint);
  native.mount('tmpfs', mountPoint, 'tmpfs', 0, 'size=1m');
  const doomedMount = path.join(volumes.root, '.rm-mnt', '_data', 'm');
  try {
    fs.writeFileSync(path.join(mountPoint, 'inside'), 'kept');
    fs.writeFileSync(path.join(data, 'beside'), 'gone');
    await assert.rejects(volumes.remove('mnt'), { code: 'EBUSY' });
    // The volume is gone from the API; its mount's content is untouched, the rest removed.
    assert.equal(await volumes.get('mnt'), undefined);
    assert.equal(fs.readFileSync(path.join(doomedMount, 'inside'), 'utf8'), 'kept');
    assert.equal(fs.existsSync(path.join(volumes.root, '.rm-mnt', '_data', 'beside')), false);
  } finally {
    native.umount(doomedMount, UnmountFlags.MNT_DETACH);
  }
  await new LocalVolumes(volumes.root).init();
  assert.deepEqual(fs.readdirSync(volumes.root), []);
}));
