import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { restartDelay, startsWithDaemon, validateRestartPolicy } from './restart-policy';

const exit = (exitCode: number, extra: Partial<{ manuallyStopped: boolean; restartCount: number; ranForMs: number }> = {}) => ({
  exitCode,
  manuallyStopped: false,
  restartCount: 0,
  ranForMs: 50,
  ...extra,
});

describe('restart policies', () => {
  it('never restarts with "no" or after a manual stop', () => {
    assert.equal(restartDelay({ Name: 'no' }, exit(1), 0), undefined);
    assert.equal(restartDelay(undefined, exit(1), 0), undefined);
    assert.equal(restartDelay({ Name: 'always' }, exit(0, { manuallyStopped: true }), 0), undefined);
  });

  it('restarts "always" with a doubling delay that resets after a long run', () => {
    assert.equal(restartDelay({ Name: 'always' }, exit(0), 0), 100);
    assert.equal(restartDelay({ Name: 'always' }, exit(0), 100), 200);
    assert.equal(restartDelay({ Name: 'always' }, exit(0), 40_000), 60_000);
    assert.equal(restartDelay({ Name: 'always' }, exit(0, { ranForMs: 12_000 }), 6400), 100);
  });

  it('restarts "on-failure" only on a non-zero exit, up to the retry count', () => {
    assert.equal(restartDelay({ Name: 'on-failure' }, exit(0), 0), undefined);
    assert.equal(restartDelay({ Name: 'on-failure', MaximumRetryCount: 2 }, exit(1, { restartCount: 1 }), 0), 100);
    assert.equal(restartDelay({ Name: 'on-failure', MaximumRetryCount: 2 }, exit(1, { restartCount: 2 }), 100), undefined);
  });

  it('starts always/unless-stopped containers with the daemon', () => {
    assert.equal(startsWithDaemon({ Name: 'always' }, true), true);
    assert.equal(startsWithDaemon({ Name: 'unless-stopped' }, true), false);
    assert.equal(startsWithDaemon({ Name: 'unless-stopped' }, false), true);
    assert.equal(startsWithDaemon({ Name: 'on-failure' }, false), false);
  });

  it('refuses unknown policies and misplaced retry counts', () => {
    assert.throws(() => validateRestartPolicy({ Name: 'sometimes' as 'no' }), /invalid restart policy 'sometimes'/);
    assert.throws(() => validateRestartPolicy({ Name: 'always', MaximumRetryCount: 3 }), /only be used with 'on-failure'/);
    validateRestartPolicy({ Name: 'on-failure', MaximumRetryCount: 3 });
  });
});
