import { needsRoot } from '../../helpers/root';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { runSnapshotterSuite } from '../../../src/snapshots/testsuite';
import { OverlaySnapshotter } from '../../../src/snapshots/overlay/snapshotter';
import { listMountsUnder } from '../../../src/snapshots/overlay/mountinfo';
import type { SnapshotInfo } from '../../../src/snapshots/types';
import { native, UnmountFlags } from '../../../src/native';
import { errorKind } from '../../../src/errors';

const skip = needsRoot('needs root for overlay mounts');

async function tempRoot(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'bsn-'));
}

async function removeRoot(dir: string): Promise<void> {
  for (const m of await listMountsUnder(dir)) native.umount(m, UnmountFlags.MNT_DETACH);
  await fs.rm(dir, { recursive: true, force: true });
}

async function open(root: string): Promise<OverlaySnapshotter> {
  const sn = new OverlaySnapshotter(root);
  await sn.init();
  return sn;
}

runSnapshotterSuite(
  'overlay',
  async () => {
    const dir = await tempRoot();
    await fs.mkdir(path.join(dir, 'mnt'));
    const root = path.join(dir, 'snapshots');
    return { snapshotter: await open(root), scratch: path.join(dir, 'mnt'), reopen: () => open(root), cleanup: () => removeRoot(dir) };
  },
  { skip },
);

async function all(sn: OverlaySnapshotter): Promise<Map<string, SnapshotInfo>> {
  const out = new Map<string, SnapshotInfo>();
  await sn.walk((i) => {
    out.set(i.name, i);
  });
  return out;
}

test('overlay: init() removes what a crash left and keeps every record', { skip }, async (t) => {
  const dir = await tempRoot();
  t.after(() => removeRoot(dir));
  const root = path.join(dir, 'snapshots');
  let sn = await open(root);
  await sn.prepare('a', null);
  await fs.writeFile(path.join(await sn.upperDir('a'), 'f'), 'f');
  await sn.commit('A', 'a');
  await sn.prepare('b', 'A');
  const kept = (await fs.readdir(root)).sort();
  // A prepare that died before its metadata write, a removal that died before deleting, a
  // torn metadata write.
  await fs.mkdir(path.join(root, 'zzzzzzzzzzzz/fs'), { recursive: true });
  await fs.mkdir(path.join(root, '.rm-yyyyyyyyyyyy/fs'), { recursive: true });
  await fs.writeFile(path.join(root, '.tmp-metadata.json-0123'), '{"schemaVers');
  sn = await open(root);
  assert.deepEqual((await fs.readdir(root)).sort(), kept);
  assert.deepEqual([...(await all(sn)).keys()].sort(), ['A', 'b']);
  assert.equal(await fs.readFile(path.join(await sn.upperDir('A'), 'f'), 'utf8'), 'f');
});

test('overlay: a store of an unknown schema version refuses to open, naming the version', { skip }, async (t) => {
  const dir = await tempRoot();
  t.after(() => removeRoot(dir));
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'metadata.json'), JSON.stringify({ schemaVersion: 7, snapshots: {} }));
  await assert.rejects(open(dir), (err: unknown) => errorKind(err) === 'FailedPrecondition' && /schema version 7/.test(String(err)));
  assert.ok((await fs.readdir(dir)).includes('metadata.json'), 'the unknown store is left alone');
});

test('overlay: a volatile snapshot (durable: false) stays out of metadata.json, survives a reopen, and a torn record is dropped', { skip }, async (t) => {
  const dir = await tempRoot();
  t.after(() => removeRoot(dir));
  const root = path.join(dir, 'snapshots');
  const metadataNames = async () => Object.keys((JSON.parse(await fs.readFile(path.join(root, 'metadata.json'), 'utf8')) as { snapshots: object }).snapshots).sort();
  let sn = await open(root);
  await sn.prepare('base', null);
  await sn.commit('B', 'base');
  await sn.prepare('rm-root', 'B', { labels: { role: 'rm' }, durable: false });
  await sn.prepare('kept', 'B', { durable: false });
  await sn.prepare('torn', 'B', { durable: false });
  await fs.writeFile(path.join(await sn.upperDir('rm-root'), 'f'), 'data');
  assert.deepEqual(await metadataNames(), ['B'], 'volatile records are not in the shared file');
  await assert.rejects(sn.remove('B'), (err: unknown) => errorKind(err) === 'FailedPrecondition' && /rm-root/.test(String(err)), 'a volatile child holds its parent');
  // A daemon restart: the records are read back from their own directories.
  const tornDir = path.dirname(await sn.upperDir('torn'));
  await fs.writeFile(path.join(tornDir, 'volatile.json'), '{"name":"torn","rec'); // as a machine crash may leave it
  sn = await open(root);
  const records = await all(sn);
  assert.deepEqual([...records.keys()].sort(), ['B', 'kept', 'rm-root']);
  assert.deepEqual(records.get('rm-root')?.labels, { role: 'rm' });
  assert.equal(records.get('rm-root')?.parent, 'B');
  assert.equal(await fs.readFile(path.join(await sn.upperDir('rm-root'), 'f'), 'utf8'), 'data');
  await assert.rejects(fs.stat(tornDir), { code: 'ENOENT' }, 'a torn record\'s directory is deleted');
  // Removed, it is gone for good; committed, it becomes durable.
  const rmDir = path.dirname(await sn.upperDir('rm-root'));
  await sn.remove('rm-root');
  await sn.commit('K', 'kept');
  assert.deepEqual(await metadataNames(), ['B', 'K']);
  await assert.rejects(fs.stat(path.join(path.dirname(await sn.upperDir('K')), 'volatile.json')), { code: 'ENOENT' });
  sn = await open(root);
  assert.deepEqual([...(await all(sn)).keys()].sort(), ['B', 'K']);
  await assert.rejects(fs.stat(rmDir), { code: 'ENOENT' });
  assert.deepEqual((await fs.readdir(root)).filter((n) => n !== 'metadata.json').length, 2, 'one directory per record');
});

/**
 * A child process prepares, fills, commits and removes snapshots in a loop and prints each
 * finished operation; it is killed with SIGKILL at random instants. After each kill the
 * store must open with every acknowledged commit intact and nothing unnamed on disk.
 */
test('overlay: kill -9 at any instant leaves the old state or the new one', { skip }, async (t) => {
  const dir = await tempRoot();
  t.after(() => removeRoot(dir));
  const root = path.join(dir, 'snapshots');
  const modulePath = path.join(__dirname, '../../../src/snapshots/overlay/snapshotter.js');
  const child = `
    const fs = require('node:fs/promises'); const path = require('node:path');
    const { OverlaySnapshotter } = require(${JSON.stringify(modulePath)});
    (async () => {
      const sn = new OverlaySnapshotter(${JSON.stringify(root)}); await sn.init();
      const committed = []; await sn.walk((i) => { if (i.kind === 'committed') committed.push(i.name); });
      for (let n = 0; ; n++) {
        const name = 'c-' + process.pid + '-' + n, key = name + '-active';
        const parent = committed.length > 0 && n % 3 !== 0 ? committed[committed.length - 1] : null;
        await sn.prepare(key, parent);
        // A volatile one (a --rm root) on the side, removed every other time.
        await sn.prepare(name + '-volatile', parent, { durable: false });
        if (n % 2 === 0) await sn.remove(name + '-volatile');
        const upper = await sn.upperDir(key);
        for (let f = 0; f < 20; f++) await fs.writeFile(path.join(upper, 'f' + f), name);
        if (n % 5 === 4) { await sn.remove(key); process.stdout.write('removed ' + key + '\\n'); continue; }
        await sn.commit(name, key);
        committed.push(name);
        process.stdout.write('committed ' + name + '\\n');
      }
    })();`;
  let acknowledged: string[] = [];
  for (let round = 0; round < 8; round++) {
    const proc = spawn(process.execPath, ['-e', child], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    // Killed at a random instant once it is under way (node's start-up time varies with load).
    await new Promise<void>((resolve) => {
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('committed ')) resolve();
      });
      void exited.then(() => resolve());
    });
    await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 120)));
    proc.kill('SIGKILL');
    await exited;
    acknowledged = [...acknowledged, ...out.split('\n').filter((l) => l.startsWith('committed ')).map((l) => l.slice('committed '.length))];

    const sn = await open(root);
    const records = await all(sn);
    for (const name of acknowledged) assert.equal(records.get(name)?.kind, 'committed', `acknowledged commit ${name} survived round ${round}`);
    for (const info of records.values()) {
      if (info.parent !== null) assert.equal(records.get(info.parent)?.kind, 'committed', `${info.name}'s parent ${info.parent}`);
      const upper = await sn.upperDir(info.name);
      if (info.kind === 'committed') {
        for (let f = 0; f < 20; f++) assert.equal(await fs.readFile(path.join(upper, `f${f}`), 'utf8'), info.name);
      }
    }
    const dirs = (await fs.readdir(root)).filter((n) => n !== 'metadata.json');
    assert.equal(dirs.length, records.size, 'one directory per record, nothing else');
    // Whatever was active when killed is abandoned work: drop it, as the daemon's GC would.
    for (const info of records.values()) if (info.kind === 'active') await sn.remove(info.name);
  }
  assert.ok(acknowledged.length > 0, 'the child made progress');
});
