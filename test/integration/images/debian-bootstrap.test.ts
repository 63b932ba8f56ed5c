import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bootstrapDebian } from '../../../src/images/bootstrap/debian';
import { harness } from './helpers';

// debootstrap downloads ~40 MB through the apt mirror and takes about a minute: opt-in.
test('bootstrap debian:bookworm with debootstrap --variant=minbase', async (t) => {
  if (process.env.BERTH_TEST_DEBOOTSTRAP !== '1') return t.skip('slow (about a minute); set BERTH_TEST_DEBOOTSTRAP=1 to run');
  if (!(await fs.access('/usr/sbin/debootstrap').then(() => true, () => false))) return t.skip('debootstrap not installed');
  const h = await harness(t);
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'bd-'));
  t.after(() => fs.rm(work, { recursive: true, force: true }));
  const id = await bootstrapDebian(h.service, { workDir: work });
  const image = await h.service.resolve('debian:bookworm');
  assert.equal(image.id, id);
  assert.deepEqual(image.runConfig.Cmd, ['bash']);
  assert.ok(image.size > 50_000_000);
  const [dir] = await h.layers.lowerDirs(image.chainId!);
  assert.match(await fs.readFile(path.join(dir, 'etc/os-release'), 'utf8'), /bookworm/);
  assert.ok((await fs.stat(path.join(dir, 'usr/bin/bash'))).isFile());
  assert.deepEqual(await fs.readdir(path.join(dir, 'dev')), []);
  assert.deepEqual(await fs.readdir(work), [], 'temp rootfs removed');
});
