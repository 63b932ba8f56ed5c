import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goCompact, goObject, goString, goTime, rawMembers } from './go-json';

test('goString escapes as Go does: <, > and & as \\u00XX, control characters, U+2028/2029, lone surrogates as U+FFFD', () => {
  assert.equal(goString('a<b>&c'), '"a\\u003cb\\u003e\\u0026c"');
  assert.equal(goString('q"\\\n\r\t\b\f\u0001'), '"q\\"\\\\\\n\\r\\t\\u0008\\u000c\\u0001"');
  assert.equal(goString('\u2028\u2029é😀'), '"\\u2028\\u2029é😀"');
  assert.equal(goString('x\ud800y'), '"x\ufffdy"');
});

test('goCompact drops whitespace outside strings only, keeps escapes, and escapes HTML characters in strings', () => {
  assert.equal(goCompact('{ "a" : [ 1, 2 ],\n "b": "x y\\" <&>" }\n'), '{"a":[1,2],"b":"x y\\" \\u003c\\u0026\\u003e"}');
  assert.equal(goCompact('"\\u003c"'), '"\\u003c"');
});

test('rawMembers splits a top-level object into raw values (nested braces and quotes in strings included; the last duplicate wins)', () => {
  const m = rawMembers(' { "b" : {"x": "}\\"{", "y": [1, {"z": null}]}, "a":"s", "n": -1.5e3 , "t":true, "a": "last" } ');
  assert.deepEqual([...m.entries()], [
    ['b', '{"x": "}\\"{", "y": [1, {"z": null}]}'],
    ['a', '"last"'],
    ['n', '-1.5e3'],
    ['t', 'true'],
  ]);
  assert.deepEqual([...rawMembers('{}').keys()], []);
  assert.throws(() => rawMembers('[1]'), /not a JSON object/);
});

test('goObject sorts keys by their bytes and compacts the values', () => {
  const m = new Map([
    ['b', ' [ 1 ]'],
    ['B', '"<"'],
    ['a', '{ "z": 1, "y": 2 }'],
  ]);
  assert.equal(goObject(m), '{"B":"\\u003c","a":{"z":1,"y":2},"b":[1]}');
});

test('goTime writes RFC3339Nano as Go does', () => {
  assert.equal(goTime('2016-03-01T10:20:30.120000000+00:00'), '2016-03-01T10:20:30.12Z');
  assert.equal(goTime('2016-03-01T10:20:30.000Z'), '2016-03-01T10:20:30Z');
  assert.equal(goTime('2016-03-01T10:20:30.5-07:00'), '2016-03-01T10:20:30.5-07:00');
  assert.equal(goTime(undefined), '0001-01-01T00:00:00Z');
  assert.throws(() => goTime('yesterday'), /parsing time "yesterday"/);
});
