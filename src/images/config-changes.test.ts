import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyConfigChanges } from './config-changes';

test('applies commit/import changes', () => {
  const c = applyConfigChanges({ Env: ['PATH=/bin', 'A=1'] }, [
    'CMD ["sh", "-c", "echo hi"]',
    'ENTRYPOINT /bin/run --x',
    'ENV A=2 B="two words"',
    'ENV LEGACY value with spaces',
    'LABEL com.example=yes',
    'EXPOSE 80 53/udp',
    'VOLUME ["/data"]',
    'WORKDIR /srv',
    'WORKDIR app',
    'USER nobody',
    'STOPSIGNAL SIGINT',
  ]);
  assert.deepEqual(c.Cmd, ['sh', '-c', 'echo hi']);
  assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c', '/bin/run --x']);
  assert.deepEqual(c.Env, ['PATH=/bin', 'A=2', 'B=two words', 'LEGACY=value with spaces']);
  assert.deepEqual(c.Labels, { 'com.example': 'yes' });
  assert.deepEqual(c.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  assert.deepEqual(c.Volumes, { '/data': {} });
  assert.equal(c.WorkingDir, '/srv/app');
  assert.equal(c.User, 'nobody');
  assert.equal(c.StopSignal, 'SIGINT');
});

test('refuses other instructions', () => {
  assert.throws(() => applyConfigChanges({}, ['RUN echo']), /run is not a valid change command/);
});
