import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMountPath, parseMountPoints } from './mountinfo';

test('decodes mountinfo octal escapes', () => {
  assert.equal(decodeMountPath('/a\\040b\\011c\\134d'), '/a b\tc\\d');
  const info = '22 27 0:21 / /proc rw - proc proc rw\n90 27 0:50 / /var/lib/my\\040dir/merged rw - overlay overlay rw,lowerdir=x\n';
  assert.deepEqual(parseMountPoints(info), ['/proc', '/var/lib/my dir/merged']);
});
