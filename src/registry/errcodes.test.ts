import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryError, describeRegistryErrors, parseRegistryErrors, statusOf } from './errcodes';

test('a RegistryError carries distribution\'s status, default message and wire body', () => {
  const err = new RegistryError('MANIFEST_UNKNOWN');
  assert.equal(err.status, 404);
  assert.deepEqual(err.body(), { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
  const withDetail = new RegistryError('DIGEST_INVALID', 'digest mismatch', { detail: { expected: 'sha256:aa' } });
  assert.equal(withDetail.status, 400);
  assert.deepEqual(withDetail.body().errors[0], { code: 'DIGEST_INVALID', message: 'digest mismatch', detail: { expected: 'sha256:aa' } });
  assert.equal(statusOf('DENIED'), 403);
  assert.equal(statusOf('UNAUTHORIZED'), 401);
  assert.equal(statusOf('RANGE_INVALID'), 416);
});

test('parseRegistryErrors reads error bodies, text or parsed, and refuses anything else', () => {
  const text = '{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"x"}},{"code":"X_VENDOR","message":""}]}';
  assert.deepEqual(parseRegistryErrors(text), [
    { code: 'NAME_UNKNOWN', message: 'repository name not known to registry', detail: { name: 'x' } },
    { code: 'X_VENDOR', message: 'X_VENDOR' },
  ]);
  assert.deepEqual(parseRegistryErrors({ errors: [{ code: 'DENIED' }] }), [{ code: 'DENIED', message: 'requested access to the resource is denied' }]);
  assert.equal(parseRegistryErrors('<html>bad gateway</html>'), undefined);
  assert.equal(parseRegistryErrors({ errors: [] }), undefined);
  assert.equal(parseRegistryErrors({ message: 'x' }), undefined);
  assert.equal(parseRegistryErrors(null), undefined);
});

test('describeRegistryErrors prints entries as distribution does', () => {
  assert.equal(describeRegistryErrors([{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }]), 'manifest unknown: manifest unknown');
  assert.equal(
    describeRegistryErrors([{ code: 'DENIED', message: 'no' }, { code: 'BLOB_UPLOAD_UNKNOWN', message: 'gone' }]),
    'denied: no; blob upload unknown: gone',
  );
});
