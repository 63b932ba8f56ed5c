import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createAdaptiveGzip, WINDOW_BYTES } from './adaptive-gzip';

/** Pipes `input` (in 64 KiB reads, as a layer's tar arrives) through the adaptive gzip. */
async function compress(input: Buffer): Promise<{ output: Buffer; windows: { deflated: number; stored: number } }> {
  const gzip = createAdaptiveGzip({ level: 6, chunkSize: 128 * 1024 });
  const chunks: Buffer[] = [];
  const reads = function* () {
    for (let i = 0; i < input.length; i += 64 * 1024) yield input.subarray(i, i + 64 * 1024);
  };
  await pipeline(Readable.from(reads()), ...gzip.streams, new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) }));
  return { output: Buffer.concat(chunks), windows: gzip.windows() };
}

const text = (bytes: number) => Buffer.alloc(bytes, 'FROM busybox\nRUN echo berth pushes layers\nCOPY . /app\n');

test('incompressible input is stored after a window deflated at the level, in one valid gzip stream', async () => {
  const input = randomBytes(12 * WINDOW_BYTES);
  const { output, windows } = await compress(input);
  assert.ok(gunzipSync(output).equals(input), 'gunzips to the input');
  assert.ok(windows.stored >= 8, `stored windows: ${JSON.stringify(windows)}`);
  assert.ok(windows.deflated >= 2 && windows.deflated <= 4, `the level is tried again after each stored run: ${JSON.stringify(windows)}`);
  assert.ok(output.length < input.length * 1.001 + 1024, `${output.length} bytes for ${input.length}`);
});

test('compressible input stays at the level: the size gzip -6 makes of it', async () => {
  const input = text(6 * WINDOW_BYTES);
  const { output, windows } = await compress(input);
  assert.ok(gunzipSync(output).equals(input));
  assert.equal(windows.stored, 0);
  assert.ok(output.length < gzipSync(input, { level: 6 }).length * 1.05 + 1024, `${output.length} bytes`);
});

test('a layer mixing both: random bytes stored, text around them compressed', async () => {
  const input = Buffer.concat([text(3 * WINDOW_BYTES), randomBytes(10 * WINDOW_BYTES), text(12 * WINDOW_BYTES)]);
  const { output, windows } = await compress(input);
  assert.ok(gunzipSync(output).equals(input));
  assert.ok(windows.stored > 0 && windows.deflated > 3, JSON.stringify(windows));
  // The random 10 MiB stay that size; of the text, the first 3 MiB and the last windows shrink to almost nothing.
  assert.ok(output.length < 10 * WINDOW_BYTES + 8 * WINDOW_BYTES, `${output.length} bytes`);
});
