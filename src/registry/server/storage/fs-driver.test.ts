import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { FilesystemDriver } from './fs-driver';
import { runStorageDriverSuite } from './testsuite';
import { digestOf } from '../../../util/digest';

runStorageDriverSuite('FilesystemDriver', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bregfs-'));
  const open = async () => {
    const driver = new FilesystemDriver(dir);
    await driver.init();
    return driver;
  };
  return { driver: await open(), reopen: open, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
});

test('FilesystemDriver keeps blobs in the content store layout and metadata in its own folder', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bregfs-'));
  try {
    const driver = new FilesystemDriver(dir);
    await driver.init();
    const data = randomBytes(100);
    await driver.createUpload('x');
    await driver.appendUpload('x', Readable.from([data]));
    await driver.commitUpload('x', digestOf(data));
    assert.deepEqual(await fs.readFile(path.join(dir, 'content', 'blobs', 'sha256', digestOf(data).slice(7))), data);
    await driver.putMetadata('repositories/a/_manifests/tags/v1', Buffer.from('d'));
    assert.equal(await fs.readFile(path.join(dir, 'metadata', 'repositories', 'a', '_manifests', 'tags', 'v1'), 'utf8'), 'd');
    assert.deepEqual(await fs.readdir(path.join(dir, 'content', 'ingest')), [], 'no upload data left behind');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
