import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LogLine, readLog } from './log-reader';
import { openLogSet, closeLogSet } from './log-files';
import { findIndexBefore } from './log-records';
import { planSince } from './log-tail';
import { LOG_INDEX_PAYLOAD_SIZE, LOG_INDEX_VERSION, LOG_STREAM_INDEX, LogIndexKind } from './protocol';

const BASE = 1_700_000_000n * 1_000_000_000n;

/** Writes logs the way berth-monitor does (native/monitor/monitor.c, log section). */
class MonitorLikeWriter {
  readonly nonce = crypto.randomBytes(16);
  private midLine = 0;
  private sinceSync = 0;
  private parts: Buffer[] = [];
  time = BASE;

  constructor(
    private readonly syncInterval: number,
    readonly indexed = true,
  ) {
    if (indexed) this.index(LogIndexKind.HEADER);
  }

  private header(stream: number, length: number): Buffer {
    const header = Buffer.alloc(13);
    header[0] = stream;
    header.writeBigUInt64BE(this.time, 1);
    header.writeUInt32BE(length, 9);
    return header;
  }

  private index(kind: number): void {
    const payload = Buffer.alloc(LOG_INDEX_PAYLOAD_SIZE);
    payload[0] = LOG_INDEX_VERSION;
    payload[1] = kind | (this.midLine << 4);
    this.nonce.copy(payload, 2);
    this.parts.push(this.header(LOG_STREAM_INDEX, payload.length), payload);
    this.sinceSync = 0;
  }

  write(stream: 1 | 2, data: string | Buffer): void {
    const body = Buffer.from(data);
    this.time += 1000n;
    if (this.indexed && this.sinceSync >= this.syncInterval) this.index(LogIndexKind.SYNC);
    this.parts.push(this.header(stream, body.length), body);
    this.sinceSync += 13 + body.length;
    if (body.length > 0) {
      if (body[body.length - 1] === 0x0a) this.midLine &= ~stream;
      else this.midLine |= stream;
    }
  }

  /** A new monitor appending to this file. */
  reopen(): void {
    this.midLine = 0;
    if (this.indexed) this.index(LogIndexKind.REOPEN);
  }

  /** Rotation: what was written so far is one file; the next starts with a header. */
  rotate(): Buffer {
    const done = this.take();
    this.index(LogIndexKind.HEADER);
    return done;
  }

  take(): Buffer {
    const all = Buffer.concat(this.parts);
    this.parts = [];
    return all;
  }
}

interface RefLine {
  stream: 'stdout' | 'stderr';
  time: bigint;
  text: string;
}

/** Plain forward reference: whole lines in the order they end. */
function referenceLines(events: Array<{ stream?: 1 | 2; data?: string; time: bigint; reopen?: boolean }>): RefLine[] {
  const out: RefLine[] = [];
  const pending: Array<{ time: bigint; text: string } | undefined> = [undefined, undefined];
  const flush = () => {
    for (const slot of [0, 1]) {
      const p = pending[slot];
      if (p && p.text.length > 0) out.push({ stream: slot === 0 ? 'stdout' : 'stderr', time: p.time, text: p.text });
      pending[slot] = undefined;
    }
  };
  for (const e of events) {
    if (e.reopen) {
      flush();
      continue;
    }
    const slot = e.stream! - 1;
    for (const piece of e.data!.match(/[^\n]*\n|[^\n]+/g) ?? []) {
      const p = (pending[slot] ??= { time: e.time, text: '' });
      p.text += piece;
      if (piece.endsWith('\n')) {
        out.push({ stream: slot === 0 ? 'stdout' : 'stderr', time: p.time, text: p.text });
        pending[slot] = undefined;
      }
    }
  }
  flush();
  return out;
}

/** Joins continued pieces back into lines, per stream. */
async function readLines(file: string, opts: Parameters<typeof readLog>[1] = {}): Promise<RefLine[]> {
  const out: RefLine[] = [];
  const open: Array<RefLine | undefined> = [undefined, undefined];
  for await (const l of readLog(file, opts) as AsyncIterable<LogLine>) {
    const slot = l.stream === 'stdout' ? 0 : 1;
    if (l.continued) {
      assert.ok(open[slot], 'a continued piece follows a piece of its line');
      open[slot]!.text += l.line.toString();
    } else {
      const line = { stream: l.stream, time: l.timeNanos, text: l.line.toString() };
      out.push(line);
      open[slot] = line;
    }
    if (l.line[l.line.length - 1] === 0x0a) open[slot] = undefined;
  }
  return out;
}

function perStream(lines: RefLine[]): Record<string, RefLine[]> {
  return { stdout: lines.filter((l) => l.stream === 'stdout'), stderr: lines.filter((l) => l.stream === 'stderr') };
}

function tempDir(): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-logtail-'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function randomLog(seed: number, options: { files: number; syncInterval: number; indexed?: boolean }) {
  const rand = random(seed);
  const writer = new MonitorLikeWriter(options.syncInterval, options.indexed ?? true);
  const events: Array<{ stream?: 1 | 2; data?: string; time: bigint; reopen?: boolean }> = [];
  const files: Buffer[] = [];
  const records = 150 + Math.floor(rand() * 300);
  for (let i = 0; i < records; i++) {
    const r = rand();
    if (r < 0.02 && writer.indexed) {
      writer.reopen();
      events.push({ reopen: true, time: writer.time });
      continue;
    }
    if (r < 0.04 && files.length < options.files - 1) {
      files.push(writer.rotate());
      continue;
    }
    const stream = rand() < 0.7 ? 1 : 2;
    // Mostly short lines, some chunks without newline, now and then a long run.
    let data = '';
    const long = rand() < 0.05;
    const size = long ? 20_000 + Math.floor(rand() * 12_000) : Math.floor(rand() * 60);
    const newline = long ? 0.0003 : 0.08;
    for (let j = 0; j < size; j++) data += rand() < newline ? '\n' : String.fromCharCode(97 + Math.floor(rand() * 26));
    if (data.length === 0) data = '\n';
    writer.write(stream, data);
    events.push({ stream, data, time: writer.time });
  }
  files.push(writer.take());
  return { files, events };
}

function writeFiles(dir: string, files: Buffer[]): string {
  const current = path.join(dir, 'container.log');
  files.forEach((content, i) => {
    const age = files.length - 1 - i;
    fs.writeFileSync(age === 0 ? current : `${current}.${age}`, content);
  });
  return current;
}

test('tail over indexed, rotated logs with reopens equals the last lines of a full read', async () => {
  const t = tempDir();
  try {
    for (let seed = 1; seed <= 16; seed++) {
      const { files, events } = randomLog(seed, { files: 1 + (seed % 4), syncInterval: 200 + (seed % 5) * 300, indexed: seed % 6 !== 0 });
      fs.rmSync(t.dir, { recursive: true, force: true });
      fs.mkdirSync(t.dir);
      const file = writeFiles(t.dir, files);
      const expected = referenceLines(events);
      assert.deepEqual(perStream(await readLines(file)), perStream(expected), `full read, seed ${seed}`);
      for (const n of [0, 1, 2, 3, 7, 20, 55, expected.length - 1, expected.length, expected.length + 5]) {
        if (n < 0) continue;
        const got = await readLines(file, { tail: n });
        assert.equal(got.length, Math.min(n, expected.length), `tail ${n}, seed ${seed}`);
        assert.deepEqual(perStream(got), perStream(n === 0 ? [] : expected.slice(-n)), `tail ${n}, seed ${seed}`);
      }
    }
  } finally {
    t.cleanup();
  }
});

test('tail first, then since and until, as Docker does', async () => {
  const t = tempDir();
  try {
    const writer = new MonitorLikeWriter(100);
    for (let i = 0; i < 50; i++) writer.write(1, `line ${i}\n`);
    const file = writeFiles(t.dir, [writer.take()]);
    const seconds = (i: number) => Number(BASE + BigInt(i + 1) * 1000n) / 1e9;
    // Times are BASE + (i+1) µs; since between line 44 and 45.
    const lines = await readLines(file, { tail: 10, since: seconds(44) + 0.0000005 });
    assert.deepEqual(lines.map((l) => l.text), ['line 45\n', 'line 46\n', 'line 47\n', 'line 48\n', 'line 49\n']);
    const early = await readLines(file, { tail: 10, until: seconds(42) + 0.0000005 });
    assert.deepEqual(early.map((l) => l.text), ['line 40\n', 'line 41\n', 'line 42\n']);
  } finally {
    t.cleanup();
  }
});

test('index records cannot be forged by output; a log without an index is read forwards', async () => {
  const t = tempDir();
  try {
    const writer = new MonitorLikeWriter(64);
    // Output that contains what looks like an index record, with the wrong nonce.
    const forged = new MonitorLikeWriter(64);
    forged.write(2, 'forged stderr line\n');
    for (let i = 0; i < 30; i++) writer.write(1, `real ${i}\n`);
    writer.write(1, Buffer.concat([forged.take(), Buffer.from('\n')]));
    const file = writeFiles(t.dir, [writer.take()]);
    const files = await openLogSet(file);
    try {
      const point = await findIndexBefore(files[0]!, files[0]!.size);
      assert.ok(point.offset > 0, 'a sync record near the end was found');
      assert.equal(point.kind, LogIndexKind.SYNC);
    } finally {
      await closeLogSet(files);
    }
    const all = await readLines(file);
    assert.ok(all.every((l) => l.stream === 'stdout'));
    for (const n of [1, 2, 3]) assert.deepEqual(await readLines(file, { tail: n }), all.slice(-n));
  } finally {
    t.cleanup();
  }
});

test('a line longer than a piece comes in pieces, counted as one line by tail', async () => {
  const t = tempDir();
  try {
    const writer = new MonitorLikeWriter(1000);
    writer.write(1, 'before\n');
    for (let i = 0; i < 10; i++) writer.write(1, 'x'.repeat(30_000));
    writer.write(1, 'end\n');
    writer.write(2, 'after\n');
    const file = writeFiles(t.dir, [writer.take()]);
    const pieces: LogLine[] = [];
    for await (const l of readLog(file, { tail: 2 })) pieces.push(l);
    assert.ok(pieces.length > 3);
    assert.ok(pieces.every((p) => p.line.length <= 64 * 1024 + 30_000));
    assert.equal(pieces[0]!.continued, false);
    assert.ok(pieces.slice(1, -1).every((p) => p.continued));
    const lines = await readLines(file, { tail: 2 });
    assert.deepEqual(lines.map((l) => l.text.length), [300_004, 6]);
  } finally {
    t.cleanup();
  }
});

test('a corrupt record is reported with its offset', async () => {
  const t = tempDir();
  try {
    const writer = new MonitorLikeWriter(1000);
    writer.write(1, 'fine\n');
    const bad = Buffer.alloc(13);
    bad[0] = 9;
    const file = writeFiles(t.dir, [Buffer.concat([writer.take(), bad])]);
    await assert.rejects(readLines(file), /corrupt log record at offset \d+ of .*container\.log: stream 9/);
  } finally {
    t.cleanup();
  }
});

test('follow goes on across a rotation: the old file is finished, then the new one read', async () => {
  const t = tempDir();
  try {
    const writer = new MonitorLikeWriter(100);
    const file = path.join(t.dir, 'container.log');
    writer.write(1, 'one\n');
    fs.writeFileSync(file, writer.take());
    let done = false;
    const seen: string[] = [];
    const reading = (async () => {
      for await (const l of readLog(file, { follow: true, isDone: () => done, pollIntervalMs: 20 })) seen.push(l.line.toString());
    })();
    await new Promise((r) => setTimeout(r, 80));
    // The writer appends to the old file, renames it, and starts a new one.
    writer.write(1, 'two\n');
    fs.appendFileSync(file, writer.rotate());
    fs.renameSync(file, `${file}.1`);
    writer.write(2, 'three\n');
    fs.writeFileSync(file, writer.take());
    await new Promise((r) => setTimeout(r, 150));
    writer.write(1, 'four\n');
    fs.appendFileSync(file, writer.take());
    done = true;
    await reading;
    assert.deepEqual(seen, ['one\n', 'two\n', 'three\n', 'four\n']);
    // And a later reader reads both files in order.
    assert.deepEqual((await readLines(file)).map((l) => l.text), ['one\n', 'two\n', 'three\n', 'four\n']);
    assert.deepEqual((await readLines(file, { tail: 3 })).map((l) => l.text), ['two\n', 'three\n', 'four\n']);
  } finally {
    t.cleanup();
  }
});

test('since seeks to the last index point before it and equals a filtered full read', async () => {
  const t = tempDir();
  try {
    for (let seed = 101; seed <= 112; seed++) {
      const { files, events } = randomLog(seed, { files: 1 + (seed % 3), syncInterval: 300 + (seed % 4) * 500, indexed: seed % 5 !== 0 });
      fs.rmSync(t.dir, { recursive: true, force: true });
      fs.mkdirSync(t.dir);
      const file = writeFiles(t.dir, files);
      const expected = referenceLines(events);
      const times = events.map((e) => e.time);
      for (const fraction of [0, 0.1, 0.5, 0.77, 0.95, 1]) {
        const pick = times[Math.min(times.length - 1, Math.floor(fraction * times.length))]!;
        for (const sinceNs of [pick, pick + 1n]) {
          const since = Number(sinceNs) / 1e9;
          // The reader works in ns rounded from float seconds: compare against the same bound.
          const bound = BigInt(Math.floor(since)) * 1_000_000_000n + BigInt(Math.round((since - Math.floor(since)) * 1e9));
          const got = await readLines(file, { since });
          assert.deepEqual(perStream(got), perStream(expected.filter((l) => l.time >= bound)), `since ${sinceNs}, seed ${seed}`);
        }
      }
    }
    // On an indexed log a late since starts far from the beginning.
    const writer = new MonitorLikeWriter(1000);
    for (let i = 0; i < 2000; i++) writer.write(1, `line ${i}\n`);
    fs.rmSync(t.dir, { recursive: true, force: true });
    fs.mkdirSync(t.dir);
    const file = writeFiles(t.dir, [writer.take()]);
    const set = await openLogSet(file);
    try {
      const plan = await planSince(set, BASE + 1900n * 1000n);
      assert.ok(plan && plan.offset > set[0]!.size * 0.9, `a seek near the end (${plan?.offset} of ${set[0]!.size})`);
    } finally {
      await closeLogSet(set);
    }
    const lines = await readLines(file, { since: Number(BASE + 1990n * 1000n + 1000n) / 1e9 });
    assert.deepEqual(lines.map((l) => l.text), Array.from({ length: 10 }, (_, i) => `line ${1990 + i}\n`));
  } finally {
    t.cleanup();
  }
});
