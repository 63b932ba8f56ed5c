import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ContainerRecord, ContainerStore, newContainerId, newContainerState } from './containers';

function record(name: string): ContainerRecord {
  return {
    Id: newContainerId(),
    Name: `/${name}`,
    Created: new Date().toISOString(),
    ImageName: 'busybox',
    ImageId: `sha256:${'a'.repeat(64)}`,
    ImageChainId: null,
    Path: 'sh',
    Args: [],
    Config: { Labels: { a: 'b' } },
    HostConfig: {},
    State: newContainerState(),
    RestartCount: 0,
  };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cs-'));
  try {
    await fn(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('hands out copies: changing one changes nothing until it is saved', () =>
  withDir(async (dir) => {
    const store = new ContainerStore(dir);
    await store.init();
    const r = record('one');
    await store.save(r);
    r.State.Status = 'running';
    assert.equal(store.get(r.Id).State.Status, 'created');
    const copy = store.get('one');
    copy.State.Status = 'exited';
    (copy.Config as { Labels: Record<string, string> }).Labels.a = 'changed';
    assert.equal(store.get(r.Id).State.Status, 'created');
    assert.deepEqual(store.list()[0]?.Config, { Labels: { a: 'b' } });
    await store.save(copy);
    assert.equal(store.find(r.Id.slice(0, 6))?.State.Status, 'exited');
    assert.equal(store.get(r.Id).schemaVersion, 1);
    await store.close();
  }));

test('records, names and deletions survive a reopen; a directory without a record is removed', () =>
  withDir(async (dir) => {
    const store = new ContainerStore(dir);
    await store.init();
    const a = record('a');
    const b = record('b');
    await store.save(a);
    await store.save(b);
    await store.save({ ...a, Name: '/renamed' });
    await store.delete(b.Id);
    const orphan = newContainerId();
    await fs.mkdir(path.join(dir, orphan));
    await store.close();
    const again = new ContainerStore(dir);
    await again.init();
    assert.deepEqual(again.list().map((c) => c.Name), ['/renamed']);
    assert.equal(again.isNameTaken('a'), false);
    assert.equal(again.isNameTaken('b'), false);
    await assert.rejects(fs.stat(path.join(dir, orphan)), /ENOENT/);
    await assert.rejects(fs.stat(path.join(dir, b.Id)), /ENOENT/);
    await fs.stat(path.join(dir, a.Id));
    await again.close();
  }));

test('migrates per-directory container.json records into the journal', () =>
  withDir(async (dir) => {
    const a = record('legacy');
    await fs.mkdir(path.join(dir, a.Id), { recursive: true });
    await fs.writeFile(path.join(dir, a.Id, 'container.json'), JSON.stringify(a));
    await fs.writeFile(path.join(dir, a.Id, 'container.log'), 'kept');
    const store = new ContainerStore(dir);
    await store.init();
    assert.equal(store.get('legacy').Id, a.Id);
    assert.equal(store.get('legacy').schemaVersion, 1);
    await assert.rejects(fs.stat(path.join(dir, a.Id, 'container.json')), /ENOENT/);
    assert.equal(await fs.readFile(path.join(dir, a.Id, 'container.log'), 'utf8'), 'kept');
    await store.close();
    const again = new ContainerStore(dir);
    await again.init();
    assert.equal(again.get('legacy').Id, a.Id);
    await again.close();
  }));

test('refuses to start on a container record of an unknown schema version', () =>
  withDir(async (dir) => {
    const store = new ContainerStore(dir);
    await store.init();
    const r = record('future');
    await store.save(r);
    await store.close();
    const file = path.join(dir, 'containers.journal');
    const { createHash } = await import('node:crypto');
    const json = JSON.stringify({ ops: [['p', r.Id, { ...r, schemaVersion: 4 }]] });
    await fs.appendFile(file, `${createHash('sha256').update(json).digest('hex').slice(0, 16)} ${json}\n`);
    await assert.rejects(new ContainerStore(dir).init(), (err: unknown) => /schema version 4/.test(String(err)) && /refusing to start/.test(String(err)));
  }));
