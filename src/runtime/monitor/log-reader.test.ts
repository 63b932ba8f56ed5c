import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatRfc3339Nano, formatRfc3339NanoFixed, LogLine, readLog } from './log-reader';
import { waitFor } from '../../../test/helpers/wait';

const BASE = 1_700_000_000n * 1_000_000_000n;

function record(stream: 1 | 2, ns: bigint, data: string): Buffer {
  const body = Buffer.from(data);
  const header = Buffer.alloc(13);
  header[0] = stream;
  header.writeBigUInt64BE(ns, 1);
  header.writeUInt32BE(body.length, 9);
  return Buffer.concat([header, body]);
}

function tempLog(): { file: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-log-'));
  return { file: path.join(dir, 'log'), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

async function all(iterable: AsyncIterable<LogLine>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of iterable) out.push(`${l.stream === "stdout" ? 1 : 2}@${l.timeNanos - BASE}:${l.line.toString()}`);
  return out;
}

const SAMPLE = Buffer.concat([
  record(1, BASE + 1n, 'one\ntw'),
  record(2, BASE + 2n, 'err1\n'),
  record(1, BASE + 3n, 'o\nthree\n'),
  record(2, BASE + 4n, 'err2 no newline'),
  record(1, BASE + 5_000_000_000n, 'late\n'),
]);

test('splits records into lines per stream, timed where each line starts', async () => {
  const t = tempLog();
  try {
    fs.writeFileSync(t.file, SAMPLE);
    assert.deepEqual(await all(readLog(t.file)), [
      '1@1:one\n',
      '2@2:err1\n',
      '1@1:two\n',
      '1@3:three\n',
      '1@5000000000:late\n',
      '2@4:err2 no newline',
    ]);
  } finally {
    t.cleanup();
  }
});

test('tail, since and until', async () => {
  const t = tempLog();
  try {
    fs.writeFileSync(t.file, SAMPLE);
    assert.deepEqual(await all(readLog(t.file, { tail: 2 })), ['1@5000000000:late\n', '2@4:err2 no newline']);
    assert.deepEqual(await all(readLog(t.file, { tail: 0 })), []);
    assert.equal((await all(readLog(t.file, { tail: 'all' }))).length, 6);
    const since = Number(BASE / 1_000_000_000n) + 1;
    assert.deepEqual(await all(readLog(t.file, { since })), ['1@5000000000:late\n']);
    assert.deepEqual(await all(readLog(t.file, { until: since })), [
      '1@1:one\n',
      '2@2:err1\n',
      '1@1:two\n',
      '1@3:three\n',
      '2@4:err2 no newline',
    ]);
  } finally {
    t.cleanup();
  }
});

test('a missing log reads as empty', async () => {
  assert.deepEqual(await all(readLog(path.join(os.tmpdir(), 'berth-no-such-log'))), []);
});

test('follow reads appended records, keeps torn records for later, stops when done', async () => {
  const t = tempLog();
  try {
    const whole = record(1, BASE + 10n, 'appended\n');
    fs.writeFileSync(t.file, record(1, BASE + 1n, 'first\n'));
    let done = false;
    const seen: string[] = [];
    const reading = (async () => {
      for await (const l of readLog(t.file, { follow: true, tail: 1, isDone: () => done, pollIntervalMs: 20 })) {
        seen.push(l.line.toString());
      }
    })();
    try {
      await waitFor(() => seen.length > 0, 10_000, 'the tail line read');
      fs.appendFileSync(t.file, whole.subarray(0, 7)); // a record cut in half
      await new Promise((r) => setTimeout(r, 60)); // several polls: none may hand out the torn record
      assert.deepEqual(seen, ['first\n']);
      fs.appendFileSync(t.file, whole.subarray(7));
      fs.appendFileSync(t.file, record(2, BASE + 11n, 'last\n'));
    } finally {
      done = true; // a failed assertion must not leave the reader polling forever (the file would hang)
    }
    await reading;
    assert.deepEqual(seen, ['first\n', 'appended\n', 'last\n']);
  } finally {
    t.cleanup();
  }
});

test('follow stops on abort', async () => {
  const t = tempLog();
  try {
    fs.writeFileSync(t.file, '');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    assert.deepEqual(await all(readLog(t.file, { follow: true, signal: controller.signal, pollIntervalMs: 1000 })), []);
  } finally {
    t.cleanup();
  }
});

test('RFC 3339 formatting', () => {
  assert.equal(formatRfc3339Nano(BASE), '2023-11-14T22:13:20Z');
  assert.equal(formatRfc3339Nano(BASE + 120_000_000n), '2023-11-14T22:13:20.12Z');
  assert.equal(formatRfc3339Nano(BASE + 10_000_000_000n), '2023-11-14T22:13:30Z');
  assert.equal(formatRfc3339NanoFixed(BASE + 5n), '2023-11-14T22:13:20.000000005Z');
});
