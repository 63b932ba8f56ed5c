import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, UsageError } from './parser';

const RUN_FLAGS = {
  interactive: { kind: 'bool', short: 'i' },
  tty: { kind: 'bool', short: 't' },
  detach: { kind: 'bool', short: 'd' },
  env: { kind: 'strings', short: 'e' },
  name: { kind: 'string' },
  last: { kind: 'int', short: 'n', default: -1 },
  'sig-proxy': { kind: 'bool', default: true },
  network: { kind: 'string', aliases: ['net'] },
} as const;

test('combined short booleans, repeated lists and attached values', () => {
  const r = parseArgs(['-it', '-e', 'A=1', '-eB=2', '--env=C=3', '--name', 'x', 'busybox'], RUN_FLAGS);
  assert.equal(r.flags.interactive, true);
  assert.equal(r.flags.tty, true);
  assert.deepEqual(r.flags.env, ['A=1', 'B=2', 'C=3']);
  assert.equal(r.flags.name, 'x');
  assert.deepEqual(r.args, ['busybox']);
  assert.ok(r.changed.has('env'));
});

test('stops at the first positional when not interspersed', () => {
  const r = parseArgs(['-d', 'busybox', 'ls', '-la', '--name', 'y'], RUN_FLAGS, { interspersed: false });
  assert.equal(r.flags.detach, true);
  assert.equal(r.flags.name, undefined);
  assert.deepEqual(r.args, ['busybox', 'ls', '-la', '--name', 'y']);
});

test('interspersed flags and -- end of flags', () => {
  const r = parseArgs(['a', '--name', 'n', '--', '-d'], RUN_FLAGS);
  assert.deepEqual(r.args, ['a', '-d']);
  assert.equal(r.flags.detach, false);
});

test('bool values, defaults, ints and aliases', () => {
  const r = parseArgs(['--sig-proxy=false', '-n', '3', '--net', 'host'], RUN_FLAGS);
  assert.equal(r.flags['sig-proxy'], false);
  assert.equal(r.flags.last, 3);
  assert.equal(r.flags.network, 'host');
  assert.equal(parseArgs([], RUN_FLAGS).flags.last, -1);
  assert.equal(parseArgs(['-n5'], RUN_FLAGS).flags.last, 5);
});

test('usage errors read like pflag', () => {
  assert.throws(() => parseArgs(['--nope'], RUN_FLAGS), (e: unknown) => e instanceof UsageError && e.message === 'unknown flag: --nope');
  assert.throws(() => parseArgs(['-x'], RUN_FLAGS), /unknown shorthand flag: 'x' in -x/);
  assert.throws(() => parseArgs(['--name'], RUN_FLAGS), /flag needs an argument: --name/);
  assert.throws(() => parseArgs(['-n', 'abc'], RUN_FLAGS), /invalid argument "abc"/);
});

test('--help and -h', () => {
  assert.equal(parseArgs(['--help'], RUN_FLAGS).help, true);
  assert.equal(parseArgs(['-h'], RUN_FLAGS).help, true);
  assert.equal(parseArgs(['-'], RUN_FLAGS).args[0], '-');
});

test('a string flag with a no-option default: `--pull` alone takes it and does not eat the next word, `--pull=x` gives x', () => {
  const specs = { pull: { kind: 'string', noOptDefault: 'always', default: 'missing' } } as const;
  assert.deepEqual([parseArgs(['--pull', '.'], specs).flags.pull, parseArgs(['--pull', '.'], specs).args], ['always', ['.']]);
  assert.equal(parseArgs(['--pull=never', '.'], specs).flags.pull, 'never');
  assert.equal(parseArgs(['.'], specs).flags.pull, 'missing');
});
