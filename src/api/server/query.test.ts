import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFilters, Query } from './query';
import { compareVersions, negotiateVersion } from './api-version';
import { Router } from './router';
import { statusOf } from '../errors-to-status';
import { alreadyExists, conflict, failedPrecondition, internal, invalidArgument, notFound, notImplemented, notModified, unavailable } from '../../errors';

test('booleans read like moby: anything but "", 0, no, false, none is true', () => {
  const q = new Query(new URLSearchParams('a=1&b=true&c=0&d=false&e=&f=no&g=None&h=yes'));
  assert.deepEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'missing'].map((k) => q.bool(k)), [true, true, false, false, false, false, false, true, false]);
  assert.equal(q.bool('missing', true), true);
});

test('integers parse or answer 400', () => {
  const q = new Query(new URLSearchParams('t=10&bad=ten&empty='));
  assert.equal(q.int('t'), 10);
  assert.equal(q.int('empty'), undefined);
  assert.throws(() => q.int('bad'), /invalid value for bad/);
});

test('filters: both JSON forms, empty, and malformed', () => {
  assert.deepEqual(parseFilters('{"label":["a=b","c"],"status":["exited"]}'), { label: ['a=b', 'c'], status: ['exited'] });
  assert.deepEqual(parseFilters('{"label":{"a=b":true,"off":false}}'), { label: ['a=b'] });
  assert.deepEqual(parseFilters(''), {});
  assert.throws(() => parseFilters('{nope'), /invalid filter/);
  assert.throws(() => parseFilters('["x"]'), /invalid filter/);
});

test('versions compare numerically and negotiate within range', () => {
  assert.equal(compareVersions('1.9', '1.10'), -1);
  assert.equal(compareVersions('1.45', '1.45'), 0);
  assert.equal(negotiateVersion(undefined), '1.45');
  assert.equal(negotiateVersion('1.41'), '1.41');
  assert.throws(() => negotiateVersion('1.46'), /client version 1.46 is too new. Maximum supported API version is 1.45/);
  assert.throws(() => negotiateVersion('1.23'), /too old/);
});

test('router: named params, greedy params for image names, decoding', async () => {
  const hits: string[] = [];
  const r = new Router()
    .get('/images/json', async () => void hits.push('list'))
    .get('/images/{name:.*}/json', async () => void hits.push('inspect'))
    .post('/containers/{id}/start', async () => void hits.push('start'));
  assert.equal(r.match('GET', '/images/json')?.params.name, undefined);
  assert.deepEqual(r.match('GET', '/images/reg:5000/a/b:1/json')?.params, { name: 'reg:5000/a/b:1' });
  assert.deepEqual(r.match('POST', '/containers/my%20c/start')?.params, { id: 'my c' });
  assert.equal(r.match('GET', '/containers/x/start'), undefined);
  assert.equal(r.match('POST', '/containers/a/b/start'), undefined);
});

test('error kinds map to moby statuses', () => {
  assert.deepEqual(
    [notFound('x'), invalidArgument('x'), conflict('x'), alreadyExists('x'), failedPrecondition('x'), unavailable('x'), notImplemented('x'), notModified('x'), internal('x'), new Error('x')].map(statusOf),
    [404, 400, 409, 409, 400, 503, 501, 304, 500, 500],
  );
  assert.equal(statusOf(new Error('wrapped', { cause: notFound('inner') })), 404);
});
