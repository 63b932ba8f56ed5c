import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Journal } from './journal';
import { errorKind } from '../errors';

const options = { kind: 'things', schemaVersion: 1 };

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'journal-'));
  try {
    await fn(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('replays puts and deletes after a reopen', () =>
  withDir(async (dir) => {
    const file = path.join(dir, 'j');
    const j = await Journal.open(file, options);
    await j.append([['p', 'a', { n: 1 }], ['p', 'b', 2]]);
    await j.append([['d', 'a'], ['p', 'c', 'x']]);
    await j.close();
    const again = await Journal.open(file, options);
    assert.deepEqual([...again.records], [['b', 2], ['c', 'x']]);
    await again.close();
  }));

test('a torn last batch is dropped and the file truncated to the last whole batch', () =>
  withDir(async (dir) => {
    const file = path.join(dir, 'j');
    const j = await Journal.open(file, options);
    await j.append([['p', 'a', 1]]);
    await j.close();
    const whole = (await fs.stat(file)).size;
    // A write cut short (no newline), then one with a checksum that does not match.
    await fs.appendFile(file, '0123456789abcdef {"ops":[["p","b",2]');
    let again = await Journal.open(file, options);
    assert.deepEqual([...again.records], [['a', 1]]);
    assert.equal((await fs.stat(file)).size, whole);
    await again.append([['p', 'c', 3]]);
    await again.close();
    await fs.appendFile(file, '0123456789abcdef {"ops":[["p","b",2]]}\n');
    again = await Journal.open(file, options);
    assert.deepEqual([...again.records], [['a', 1], ['c', 3]]);
    await again.close();
  }));

test('a bad batch before the last one is corruption: open refuses, naming the line', () =>
  withDir(async (dir) => {
    const file = path.join(dir, 'j');
    const j = await Journal.open(file, options);
    await j.append([['p', 'a', 1]]);
    await j.append([['p', 'b', 2]]);
    await j.close();
    const lines = (await fs.readFile(file, 'utf8')).split('\n');
    lines[1] = lines[1].replace('"a",1', '"a",7');
    await fs.writeFile(file, lines.join('\n'));
    await assert.rejects(Journal.open(file, options), (err: unknown) => errorKind(err) === 'FailedPrecondition' && /corrupt at line 2/.test(String(err)));
  }));

test('an unknown schema version or another kind is refused, naming it, and the file is left alone', () =>
  withDir(async (dir) => {
    const file = path.join(dir, 'j');
    const j = await Journal.open(file, { kind: 'things', schemaVersion: 7 });
    await j.append([['p', 'a', 1]]);
    await j.close();
    const before = await fs.readFile(file);
    await assert.rejects(Journal.open(file, options), (err: unknown) => errorKind(err) === 'FailedPrecondition' && /schema version 7/.test(String(err)) && /refusing to start/.test(String(err)));
    await assert.rejects(Journal.open(file, { kind: 'others', schemaVersion: 7 }), /is not a others journal/);
    assert.deepEqual(await fs.readFile(file), before);
  }));

test('compaction keeps the live records and drops the dead lines', () =>
  withDir(async (dir) => {
    const file = path.join(dir, 'j');
    const j = await Journal.open(file, { ...options, minDeadLines: 10 });
    for (let i = 0; i < 200; i++) await j.append([['p', `k${i % 5}`, i]], { durable: false });
    await j.close();
    const lines = (await fs.readFile(file, 'utf8')).trim().split('\n').length;
    assert.ok(lines < 20, `${lines} lines after 200 overwrites of 5 keys`);
    const again = await Journal.open(file, options);
    assert.deepEqual([...again.records].sort(), [['k0', 195], ['k1', 196], ['k2', 197], ['k3', 198], ['k4', 199]]);
    await again.close();
  }));

test('a seed (migration) becomes the first content, only when there is no journal yet', () =>
  withDir(async (dir) => {
    const file = path.join(dir, 'j');
    const j = await Journal.open(file, options, async () => new Map([['old', { v: 1 }]]));
    assert.deepEqual([...j.records], [['old', { v: 1 }]]);
    await j.close();
    const again = await Journal.open(file, options, async () => new Map([['other', 1]]));
    assert.deepEqual([...again.records], [['old', { v: 1 }]]);
    await again.close();
  }));
