import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { extractInWorker, extractionWorkerRunning, handOver, warmLayerExtractor } from './layer-extractor';
import { tarBuffer } from '../archive/tar/test-tar';
import { digestOf } from '../util/digest';
import { errorKind } from '../errors';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-extractor-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

const big = Buffer.alloc(3 << 20, 'x');
const layer = tarBuffer([
  { name: 'etc/', type: 'directory' },
  { name: 'etc/hello', body: 'hello\n', mode: 0o640, uid: 7, gid: 8 },
  { name: 'big', body: big.toString() },
  { name: 'etc/.wh.gone' },
]);

/** `data` in chunks of `size` bytes, each a buffer of its own. */
function chunked(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(Buffer.from(data.subarray(i, i + size)));
  return out;
}

test('a layer is extracted on the worker thread, with its diff ID (the plain tar\'s sha256) and overlay whiteouts', async (t) => {
  const dest = await tempDir(t);
  const { diffId, size } = await extractInWorker(Readable.from(chunked(layer, 100_000)), dest, { whiteouts: 'overlay', decompress: false });
  assert.equal(diffId, digestOf(layer));
  assert.equal(size, layer.length);
  assert.equal(await fs.readFile(path.join(dest, 'etc/hello'), 'utf8'), 'hello\n');
  const st = await fs.stat(path.join(dest, 'etc/hello'));
  assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [0o640, 7, 8]);
  assert.equal((await fs.stat(path.join(dest, 'big'))).size, big.length);
  assert.ok((await fs.lstat(path.join(dest, 'etc/gone'))).isCharacterDevice(), 'the whiteout in overlay form');
});

test('with decompress, a gzip layer is decompressed there, and the diff ID is the uncompressed tar\'s', async (t) => {
  const dest = await tempDir(t);
  const gz = gzipSync(layer);
  const { diffId } = await extractInWorker(Readable.from(chunked(gz, 50_000)), dest, { whiteouts: 'overlay', decompress: true });
  assert.equal(diffId, digestOf(layer));
  assert.equal((await fs.stat(path.join(dest, 'big'))).size, big.length);
});

test('without decompress, gzip bytes are a tar error (apply() gets tars its caller decompressed)', async (t) => {
  const dest = await tempDir(t);
  await assert.rejects(extractInWorker(Readable.from([gzipSync(layer)]), dest, { whiteouts: 'overlay', decompress: false }));
});

test('a handed-over buffer is moved to the worker, any other chunk copied (its memory stays usable)', async (t) => {
  const dest = await tempDir(t);
  const [first, ...rest] = chunked(layer, 1 << 20);
  const kept = Buffer.from(rest[0]!);
  handOver(first!);
  const slice = Buffer.concat(rest).subarray(0); // spans its whole buffer: not handed over, so copied
  await extractInWorker(Readable.from([first!, slice]), dest, { whiteouts: 'overlay', decompress: false });
  assert.equal(first!.length, 0, 'moved: the sender\'s view is detached');
  assert.deepEqual(slice.subarray(0, kept.length), kept, 'copied: still readable');
});

test('a failing input fails the extraction with its own error, after the worker stopped; the worker serves the next job', async (t) => {
  const dest = await tempDir(t);
  const input = new PassThrough();
  const extraction = extractInWorker(input, dest, { whiteouts: 'overlay', decompress: false });
  input.write(layer.subarray(0, 600_000));
  setTimeout(() => input.destroy(new Error('registry went away')), 50);
  await assert.rejects(extraction, /registry went away/);

  const again = await tempDir(t);
  const { diffId } = await extractInWorker(Readable.from([layer]), again, { whiteouts: 'overlay', decompress: false });
  assert.equal(diffId, digestOf(layer));
});

test('an extraction error keeps its kind and message, and stops reading the input', async (t) => {
  const dest = await tempDir(t);
  const bad = tarBuffer([{ name: 'ok', body: 'x' }, { name: 'link', type: 'link', linkname: 'missing' }]);
  let destroyed = false;
  const input = new Readable({
    read() {
      this.push(bad);
      // never ends on its own: only the failure stops the reading
    },
    destroy(err, done) {
      destroyed = true;
      done(err);
    },
  });
  const err = await extractInWorker(input, dest, { whiteouts: 'none', decompress: false }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error, 'the extraction failed');
  assert.equal(errorKind(err), 'InvalidArgument');
  assert.match(err.message, /hardlink target "missing" does not exist/);
  assert.ok(destroyed, 'the input was destroyed');
});

test('several extractions at once share the worker and each gets its own result', async (t) => {
  const dirs = await Promise.all([1, 2, 3].map(() => tempDir(t)));
  const tars = dirs.map((_, i) => tarBuffer([{ name: `f${i}`, body: `file ${i}`.repeat(100_000) }]));
  const results = await Promise.all(dirs.map((dest, i) => extractInWorker(Readable.from(chunked(tars[i]!, 65_536)), dest, { whiteouts: 'overlay', decompress: false })));
  assert.deepEqual(
    results.map((r) => r.diffId),
    tars.map((b) => digestOf(b)),
  );
  for (const [i, dest] of dirs.entries()) assert.equal(await fs.readFile(path.join(dest, `f${i}`), 'utf8'), `file ${i}`.repeat(100_000));
});

test('the destination may come later (a snapshot being prepared): the bytes wait in the worker; a failed one fails the extraction', async (t) => {
  const dest = await tempDir(t);
  let give!: (dir: string) => void;
  const later = new Promise<string>((resolve) => (give = resolve));
  const extraction = extractInWorker(Readable.from(chunked(layer, 100_000)), later, { whiteouts: 'overlay', decompress: false });
  setTimeout(() => give(dest), 100);
  assert.equal((await extraction).diffId, digestOf(layer));
  assert.equal(await fs.readFile(path.join(dest, 'etc/hello'), 'utf8'), 'hello\n');

  const failed = extractInWorker(Readable.from(chunked(layer, 100_000)), Promise.reject(new Error('prepare failed')), { whiteouts: 'overlay', decompress: false });
  await assert.rejects(failed, /prepare failed/);
});

test('the worker ends soon after an extraction outside a pull (load, import, bootstrap), and is kept after a pull', async (t) => {
  const waitFor = async (want: boolean, withinMs: number) => {
    const deadline = Date.now() + withinMs;
    while (extractionWorkerRunning() !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return extractionWorkerRunning();
  };
  // The tests above may have left it lingering; it ends within a short idle time when none was a pull.
  assert.equal(await waitFor(false, 5000), false, 'no worker after the earlier extractions');
  await extractInWorker(Readable.from([layer]), await tempDir(t), { whiteouts: 'overlay', decompress: false });
  assert.equal(extractionWorkerRunning(), true, 'the worker is there right after its job');
  assert.equal(await waitFor(false, 5000), false, 'the worker ended after a non-pull extraction');

  warmLayerExtractor(); // as a pull does before its layers
  await extractInWorker(Readable.from([layer]), await tempDir(t), { whiteouts: 'overlay', decompress: false });
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(extractionWorkerRunning(), true, 'the worker is kept for the next pull');
});

test('an object stream\'s batches of chunks are extracted as one byte stream, each handed-over chunk moved', async (t) => {
  const dest = await tempDir(t);
  const gz = gzipSync(layer);
  const pieces = chunked(gz, 40_000);
  const batches: Buffer[][] = [];
  for (let i = 0; i < pieces.length; i += 3) batches.push(pieces.slice(i, i + 3));
  for (const piece of pieces) handOver(piece);
  // A small last piece lives in Buffer's shared pool: that one is copied.
  const own = pieces.filter((p) => p.byteOffset === 0 && p.byteLength === p.buffer.byteLength);
  const pooled = pieces.filter((p) => !own.includes(p));
  const pooledLengths = pooled.map((p) => p.length);
  assert.ok(own.length >= pieces.length - 1);
  const { diffId } = await extractInWorker(Readable.from(batches, { objectMode: true }), dest, { whiteouts: 'overlay', decompress: true });
  assert.equal(diffId, digestOf(layer));
  assert.ok(own.every((p) => p.length === 0), 'every chunk of its own memory was moved, not copied');
  assert.deepEqual(pooled.map((p) => p.length), pooledLengths);
  assert.equal((await fs.stat(path.join(dest, 'big'))).size, big.length);
});

test('the worker closing the files it extracted writes no "closed but not opened" warning per file', async (t) => {
  const dest = await tempDir(t);
  const many = tarBuffer(Array.from({ length: 40 }, (_, i) => ({ name: `f${i}`, body: `${i}\n` })));
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    written.push(String(chunk));
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    await extractInWorker(Readable.from([many]), dest, { whiteouts: 'overlay', decompress: false });
    await new Promise((resolve) => setTimeout(resolve, 100)); // the worker's stderr arrives asynchronously
  } finally {
    process.stderr.write = write;
  }
  assert.equal((await fs.readdir(dest)).length, 40);
  assert.deepEqual(written.filter((w) => w.includes('closed but not opened')), []);
});
