import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonProgressRenderer } from './json-progress';
import { progressString, progressBytes, progressUpdate, statusMessage } from '../../util/json-progress';

function capture(isTTY: boolean, columns?: number): { out: string[]; renderer: JsonProgressRenderer } {
  const out: string[] = [];
  return { out, renderer: new JsonProgressRenderer({ write: (t) => out.push(t), isTTY, columns }) };
}

test('progressString is jsonmessage.JSONProgress.String', () => {
  assert.equal(progressString({}), '');
  assert.equal(progressString({ current: 0, total: 0 }), '');
  // dockerd's own output for a 3.072 kB layer, done:
  assert.equal(progressString({ current: 3072, total: 3072 }), `[${'='.repeat(50)}>]  3.072kB/3.072kB`);
  assert.equal(progressString({ current: 512, total: 2048 }), `[============>${' '.repeat(38)}]     512B/2.048kB`);
  assert.equal(progressString({ current: 12_300_000, total: 45_600_000 }, 80), '  12.3MB/45.6MB');
  assert.equal(progressString({ current: 5000 }), '     5kB');
  assert.equal(progressString({ current: 9000, total: 10 }, 80), '     9kB', 'a current past the total drops the total');
  assert.equal(progressString({ current: 1, total: 2, hidecounts: true }, 80), '');
});

test('the daemon-side messages have dockerd\'s shapes', () => {
  assert.deepEqual(progressUpdate('abc', 'Preparing'), { status: 'Preparing', progressDetail: {}, id: 'abc' });
  assert.deepEqual(progressBytes('abc', 'Pushing', 1, 2000).progress, `[>${' '.repeat(50)}]       1B/2kB`);
  assert.deepEqual(statusMessage('The push refers to repository [x]'), { status: 'The push refers to repository [x]' });
});

test('without a terminal: plain lines, byte counts left out', () => {
  const { out, renderer } = capture(false);
  renderer.render(statusMessage('The push refers to repository [localhost:5000/busybox]'));
  renderer.render(progressUpdate('aaa', 'Preparing'));
  renderer.render(progressBytes('aaa', 'Pushing', 10, 100));
  renderer.render(progressUpdate('aaa', 'Pushed'));
  renderer.render({ status: 'Loading layer', progress: '[==>  ] 1kB/2kB', id: 'bbb' });
  renderer.render({ stream: 'Loaded image: busybox:latest\n' });
  assert.equal(
    out.join(''),
    // The deprecated progress string alone ends no line without a terminal, as in docker.
    'The push refers to repository [localhost:5000/busybox]\naaa: Preparing\naaa: Pushed\nbbb: Loading layer [==>  ] 1kB/2kBLoaded image: busybox:latest\n',
  );
});

test('on a terminal: one line per id, redrawn in place with a bar sized to the terminal', () => {
  const { out, renderer } = capture(true, 120);
  renderer.render(statusMessage('The push refers to repository [r/x]'));
  renderer.render(progressUpdate('aaa', 'Preparing'));
  renderer.render(progressUpdate('bbb', 'Preparing'));
  renderer.render(progressBytes('aaa', 'Pushing', 500, 1000));
  renderer.render(progressUpdate('bbb', 'Layer already exists'));
  const text = out.join('');
  const bar = `[${'='.repeat(25)}>${' '.repeat(25)}]     500B/1kB`;
  assert.equal(
    text,
    'The push refers to repository [r/x]\n' +
      '\n\x1b[1A\x1b[2K\raaa: Preparing \r\x1b[1B' + // a new line for aaa
      '\n\x1b[1A\x1b[2K\rbbb: Preparing \r\x1b[1B' + // and for bbb below it
      `\x1b[2A\x1b[2K\raaa: Pushing ${bar}\r\x1b[2B` + // up two lines to aaa, and back
      '\x1b[1A\x1b[2K\rbbb: Layer already exists \r\x1b[1B',
  );
  // A narrow terminal drops the bar, as docker does under 111 columns.
  const narrow = capture(true, 80);
  narrow.renderer.render(progressBytes('aaa', 'Pushing', 500, 1000));
  assert.match(narrow.out.join(''), /aaa: Pushing     500B\/1kB\r/);
});

test('a line without an id starts a new group of lines (pull -a, the next tag)', () => {
  const { out, renderer } = capture(true, 120);
  renderer.render(progressUpdate('aaa', 'Pulling fs layer'));
  renderer.render(statusMessage('Digest: sha256:1'));
  renderer.render(progressUpdate('aaa', 'Already exists'));
  assert.equal(out.join(''), '\n\x1b[1A\x1b[2K\raaa: Pulling fs layer \r\x1b[1BDigest: sha256:1\n\n\x1b[1A\x1b[2K\raaa: Already exists \r\x1b[1B');
});
