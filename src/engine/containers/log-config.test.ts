import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSize, resolveLogConfig, withDefaultDriver } from './log-config';

test('sizes use Docker units: decimal for json-file, binary for local', () => {
  assert.equal(parseSize('10k', 'decimal', ''), 10_000);
  assert.equal(parseSize('10m', 'decimal', ''), 10_000_000);
  assert.equal(parseSize('1g', 'decimal', ''), 1_000_000_000);
  assert.equal(parseSize('1.5MB', 'decimal', ''), 1_500_000);
  assert.equal(parseSize('10k', 'binary', ''), 10_240);
  assert.equal(parseSize('512', 'binary', ''), 512);
  assert.throws(() => parseSize('ten', 'decimal', ''), /invalid size: 'ten'/);
});

test('json-file and local rotate as Docker does; none keeps no log', () => {
  // No driver asked for: dockerd's default, json-file, which does not rotate unless told to.
  assert.deepEqual(resolveLogConfig(undefined), { driver: 'json-file', enabled: true, maxFiles: 1 });
  assert.deepEqual(resolveLogConfig({ Type: '', Config: { 'max-size': '1k' } }), { driver: 'json-file', enabled: true, maxSize: 1000, maxFiles: 1 });
  assert.deepEqual(resolveLogConfig({ Type: 'json-file', Config: {} }), { driver: 'json-file', enabled: true, maxFiles: 1 });
  assert.deepEqual(resolveLogConfig({ Type: 'json-file', Config: { 'max-size': '10k', 'max-file': '3' } }), { driver: 'json-file', enabled: true, maxSize: 10_000, maxFiles: 3 });
  assert.deepEqual(resolveLogConfig({ Type: 'local', Config: {} }), { driver: 'local', enabled: true, maxSize: 20 * 1024 * 1024, maxFiles: 5 });
  assert.deepEqual(resolveLogConfig({ Type: 'none', Config: {} }), { driver: 'none', enabled: false, maxFiles: 1 });
});

test('unknown drivers and bad options are refused with dockerd\'s messages', () => {
  assert.throws(() => resolveLogConfig({ Type: 'nosuchdriver' }), /^EngineError\(InvalidArgument\): error looking up logging plugin nosuchdriver: plugin "nosuchdriver" not found$/);
  // dockerd has syslog built in; berth refuses it as not implemented rather than logging elsewhere.
  assert.throws(() => resolveLogConfig({ Type: 'syslog' }), /^EngineError\(NotImplemented\): the syslog log driver is not supported by berth: use json-file, local, none$/);
  assert.throws(() => resolveLogConfig({ Type: 'json-file', Config: { 'max-sise': '1m' } }), /unknown log opt 'max-sise' for json-file log driver/);
  assert.throws(() => resolveLogConfig({ Type: 'local', Config: { tag: 'x' } }), /unknown log opt 'tag' for log driver local/);
  assert.throws(() => resolveLogConfig({ Type: 'json-file', Config: { 'max-size': '0' } }), /max-size must be a positive number/);
  assert.throws(() => resolveLogConfig({ Type: 'json-file', Config: { 'max-size': 'big' } }), /invalid size: 'big'/);
  assert.throws(() => resolveLogConfig({ Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '0' } }), /max-file cannot be less than 1/);
  assert.throws(() => resolveLogConfig({ Type: 'json-file', Config: { 'max-file': 'x' } }), /parsing "x": invalid syntax/);
  assert.throws(() => resolveLogConfig({ Type: 'json-file', Config: { mode: 'fast' } }), /logging mode not supported: fast/);
});

test('create stores the default driver by name, as dockerd does', () => {
  assert.deepEqual(withDefaultDriver(undefined), { Type: 'json-file', Config: {} });
  assert.deepEqual(withDefaultDriver({ Type: '', Config: null }), { Type: 'json-file', Config: {} });
  assert.deepEqual(withDefaultDriver({ Type: 'local', Config: { 'max-file': '2' } }), { Type: 'local', Config: { 'max-file': '2' } });
});
