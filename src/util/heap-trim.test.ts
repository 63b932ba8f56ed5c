import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const HEAP_TRIM = path.join(__dirname, 'heap-trim.js');

/**
 * Runs `script` in a Node started as bin/berthd starts the daemon (--expose-gc), with V8's gc
 * wrapped to count its calls before heap-trim is loaded; prints what the script prints.
 */
function withCountedGc(script: string, flags: string[] = ['--expose-gc']): string {
  const prelude = `let collections = 0; const real = globalThis.gc; if (real) globalThis.gc = () => { collections++; real(); };
const heap = require(${JSON.stringify(HEAP_TRIM)});`;
  return execFileSync(process.execPath, [...flags, '-e', `${prelude}\n${script}`], { encoding: 'utf8' }).trim();
}

test('trimHeap collects V8 garbage first when the daemon runs with --expose-gc, at most once in 30 s', () => {
  assert.equal(withCountedGc('heap.trimHeap(); heap.trimHeap(); console.log(collections);'), '1');
  // 30 s later (performance.now moved on) it collects again
  assert.equal(withCountedGc('heap.trimHeap(); const now = performance.now(); performance.now = () => now + 30_000; heap.trimHeap(); console.log(collections);'), '2');
});

test('a pull holding the heap defers the collection to its release', () => {
  const out = withCountedGc(`const release = heap.holdHeapForPull();
heap.trimHeap();
const during = collections;
release();
release(); // a second release is a no-op
console.log(during, collections);`);
  assert.equal(out, '0 1');
});

test('without --expose-gc trimHeap only trims', () => {
  assert.equal(withCountedGc('heap.trimHeap(); console.log(typeof globalThis.gc, collections);', []), 'undefined 0');
});
