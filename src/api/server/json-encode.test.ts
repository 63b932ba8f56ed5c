import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeJsonBody as encode, writeJsonList, SpareBuffer } from './json-encode';

const encodeJsonBody = (body: unknown): Buffer => {
  const encoded = encode(body);
  const bytes = 'bytes' in encoded ? encoded.bytes : writeJsonList(encoded.items, Buffer.alloc(encoded.length + 10));
  assert.equal(bytes.length, encoded.length);
  return bytes;
};

const expected = (body: unknown) => Buffer.from(`${JSON.stringify(body)}\n`);

test('encodes bodies exactly as JSON.stringify does, with a trailing newline', () => {
  const bodies: unknown[] = [
    {},
    [],
    [1, 'two', null, { a: [true] }],
    // undefined and functions in an array become null, as JSON.stringify makes them.
    [undefined, () => 1, { skipped: undefined, kept: 'é ☃ \u2028 "quoted"' }],
    Object.freeze([Object.freeze({ Id: 'x', Labels: Object.freeze({ 'a.b': 'ü' }) })]),
    'text',
    null,
  ];
  for (const body of bodies) assert.deepEqual(encodeJsonBody(body), expected(body), JSON.stringify(body));
});

test('a large list comes out whole, in order, twice the same (kept encodings)', () => {
  const body = Array.from({ length: 3000 }, (_, i) => (i % 500 === 0 ? Object.freeze({ big: 'x'.repeat(40_000 + i) }) : Object.freeze({ i, s: 'ü'.repeat(i % 7) })));
  assert.deepEqual(encodeJsonBody(body), expected(body));
  assert.deepEqual(encodeJsonBody(body), expected(body));
});

test('the spare buffer is handed out again only after it was given back', () => {
  const spare = new SpareBuffer();
  const first = spare.take(300_000);
  assert.ok(first.length >= 300_000);
  const second = spare.take(1000);
  assert.notEqual(second, first, 'a buffer in use was handed out twice');
  spare.give(first);
  assert.equal(spare.take(200_000), first);
  assert.notEqual(spare.take(200_000), first);
});
