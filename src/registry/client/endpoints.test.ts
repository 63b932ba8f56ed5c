import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointsFor, isInsecure } from './endpoints';

const settings = { mirrors: ['http://127.0.0.1:5001/', 'https://mirror.lan/'], insecureRegistries: ['reg.lan:5000', '10.1.0.0/16'] };

test('loopback, listed hosts and CIDRs are insecure; others are not', () => {
  for (const host of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.9.9.9', '[::1]:5000', 'reg.lan:5000', '10.1.2.3:443']) assert.equal(isInsecure(host, settings), true, host);
  for (const host of ['reg.lan:5001', 'example.com', '10.2.0.1:5000', '128.0.0.1']) assert.equal(isInsecure(host, settings), false, host);
});

test('docker.io pulls go to the mirrors in order, then Docker Hub; pushes only to Docker Hub', () => {
  assert.deepEqual(
    endpointsFor('docker.io', settings, 'pull').map((e) => [e.base.href, e.mirror, e.insecureTls]),
    [
      ['http://127.0.0.1:5001/', true, true],
      ['https://mirror.lan/', true, false],
      ['https://registry-1.docker.io/', false, false],
    ],
  );
  assert.deepEqual(endpointsFor('docker.io', settings, 'push').map((e) => e.base.href), ['https://registry-1.docker.io/']);
});

test('an insecure registry: https without verification first, then plain http; a secure one: https only', () => {
  assert.deepEqual(endpointsFor('localhost:5000', settings, 'pull').map((e) => [e.base.href, e.insecureTls]), [
    ['https://localhost:5000/', true],
    ['http://localhost:5000/', false],
  ]);
  assert.deepEqual(endpointsFor('ghcr.io', settings, 'pull').map((e) => [e.base.href, e.insecureTls]), [['https://ghcr.io/', false]]);
});
