import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { naturalCompare, naturalLess } from './natural-order';

/** Cases from github.com/fvbommel/sortorder's tests, the order `docker volume ls` prints. */
describe('naturalLess', () => {
  it('compares runs of digits by value, digits before letters, then bytewise', () => {
    assert.deepEqual(['v10', 'v2', 'v1', 'a', 'B', '10', '9', 'v02'].sort(naturalCompare), ['9', '10', 'B', 'a', 'v1', 'v2', 'v02', 'v10']);
    assert.equal(naturalLess('a1', 'a01'), true, 'fewer leading zeros first');
    assert.equal(naturalLess('a01', 'a1'), false);
    assert.equal(naturalLess('abc', 'abc1'), true, 'a prefix first');
    assert.equal(naturalLess('x', 'x'), false);
    assert.equal(naturalLess('a2b', 'a10a'), true);
  });
});
