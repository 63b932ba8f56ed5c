import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BuildEvent } from '../../builder/types';
import { buildMessages, errorMessage } from './build-messages';
import { goJson } from './json-stream';

const id = (hex12: string) => `sha256:${hex12}${'0'.repeat(52)}`;

test('events render as dockerd 20.10 classic builder streams them (recorded from dockerd, byte for byte)', () => {
  const events: BuildEvent[] = [
    { type: 'step', stage: '0', index: 1, total: 3, instruction: 'FROM busybox' },
    { type: 'step-done', stage: '0', imageId: id('3a1b33577b58'), cached: false, durationMs: 1 },
    { type: 'step', stage: '0', index: 2, total: 3, instruction: 'ENV A=1' },
    { type: 'cached', stage: '0' },
    { type: 'step-done', stage: '0', imageId: id('a4a4e6211b0d'), cached: true, durationMs: 1 },
    { type: 'step', stage: '0', index: 3, total: 3, instruction: 'RUN echo hi && echo err >&2' },
    { type: 'container', stage: '0', id: 'aeeb5a669344' + 'f'.repeat(52) },
    { type: 'output', stage: '0', stream: 'stdout', data: Buffer.from('hi\n') },
    { type: 'output', stage: '0', stream: 'stderr', data: Buffer.from('err\n') },
    { type: 'container-removed', stage: '0', id: 'aeeb5a669344' + 'f'.repeat(52) },
    { type: 'step-done', stage: '0', imageId: id('9592a6d48470'), cached: false, durationMs: 1 },
    { type: 'warning', message: 'One or more build-args [X Y] were not consumed' },
    { type: 'built', imageId: id('67e68cb48169') },
    { type: 'tagged', ref: 'app:1' },
  ];
  const wire = events.flatMap(buildMessages).map(goJson).join('\n');
  const dockerd = [
    '{"stream":"Step 1/3 : FROM busybox"}',
    '{"stream":"\\n"}',
    '{"stream":" ---\\u003e 3a1b33577b58\\n"}',
    '{"stream":"Step 2/3 : ENV A=1"}',
    '{"stream":"\\n"}',
    '{"stream":" ---\\u003e Using cache\\n"}',
    '{"stream":" ---\\u003e a4a4e6211b0d\\n"}',
    '{"stream":"Step 3/3 : RUN echo hi \\u0026\\u0026 echo err \\u003e\\u00262"}',
    '{"stream":"\\n"}',
    '{"stream":" ---\\u003e Running in aeeb5a669344\\n"}',
    '{"stream":"hi\\n"}',
    '{"stream":"\\u001b[91merr\\n\\u001b[0m"}',
    '{"stream":"Removing intermediate container aeeb5a669344\\n"}',
    '{"stream":" ---\\u003e 9592a6d48470\\n"}',
    '{"stream":"[Warning] One or more build-args [X Y] were not consumed\\n"}',
    `{"aux":{"ID":"${id('67e68cb48169')}"}}`,
    '{"stream":"Successfully built 67e68cb48169\\n"}',
    '{"stream":"Successfully tagged app:1\\n"}',
  ].join('\n');
  assert.equal(wire, dockerd);
});

test('a failure is errorDetail with the exit code only when there is one', () => {
  assert.equal(
    goJson(errorMessage("The command '/bin/sh -c echo out; exit 3' returned a non-zero code: 3", 3)),
    `{"errorDetail":{"code":3,"message":"The command '/bin/sh -c echo out; exit 3' returned a non-zero code: 3"},"error":"The command '/bin/sh -c echo out; exit 3' returned a non-zero code: 3"}`,
  );
  assert.deepEqual(errorMessage('COPY failed: x'), { errorDetail: { message: 'COPY failed: x' }, error: 'COPY failed: x' });
});

test('a warning gets the "[Warning] " prefix once, whether or not the executor wrote it', () => {
  assert.deepEqual(buildMessages({ type: 'warning', message: '[Warning] One or more build-args [V] were not consumed' }), [{ stream: '[Warning] One or more build-args [V] were not consumed\n' }]);
  assert.deepEqual(buildMessages({ type: 'warning', message: 'Dockerfile:3: empty continuation line' }), [{ stream: '[Warning] Dockerfile:3: empty continuation line\n' }]);
});
