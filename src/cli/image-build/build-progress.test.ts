import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BuildProgress } from './build-progress';

/** The classic stream of a small build, as dockerd and berth send it. */
const STREAM = [
  'Step 1/3 : FROM busybox', '\n', ' ---> 3a1b33577b58\n',
  'Step 2/3 : ENV A=1', '\n', ' ---> Using cache\n', ' ---> a4a4e6211b0d\n',
  'Step 3/3 : RUN echo hi && echo err >&2', '\n', ' ---> Running in aeeb5a669344\n', 'hi\n', '\u001b[91merr\n\u001b[0m',
  'Removing intermediate container aeeb5a669344\n', ' ---> 9592a6d48470\n',
].map((stream) => ({ stream }));
const ID = `sha256:9592a6d48470${'0'.repeat(52)}`;

function draw(tty: boolean): string {
  let out = '';
  let clock = 0;
  const p = new BuildProgress({ write: (t) => (out += t), isTTY: tty }, tty, () => (clock += 250));
  for (const m of [...STREAM, { aux: { ID } }, { stream: 'Successfully built 9592a6d48470\n' }, { stream: 'Successfully tagged app:1\n' }]) p.message(m);
  p.finish();
  return out;
}

test('plain: one line per step with CACHED or its duration, a heading before RUN output, no colors', () => {
  assert.equal(
    draw(false),
    ['[1/3] FROM busybox  0.25s', '[2/3] ENV A=1  CACHED', '[3/3] RUN echo hi && echo err >&2', 'hi', 'err', '[3/3] RUN echo hi && echo err >&2  0.25s', `Built ${ID} in 1.50s`, 'Tagged app:1', ''].join('\n'),
  );
});

test('tty: the step line is completed in place; output keeps its colors and no blank line follows it', () => {
  assert.equal(
    draw(true),
    '[1/3] FROM busybox\r\u001b[K[1/3] FROM busybox  0.25s\n' +
      '[2/3] ENV A=1\r\u001b[K[2/3] ENV A=1  CACHED\n' +
      '[3/3] RUN echo hi && echo err >&2\nhi\n\u001b[91merr\n\u001b[0m[3/3] RUN echo hi && echo err >&2  0.25s\n' +
      `Built ${ID} in 1.50s\nTagged app:1\n`,
  );
});
