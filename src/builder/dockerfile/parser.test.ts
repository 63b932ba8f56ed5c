import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseDockerfile, dumpNode } from './parser.js';
import { DockerfileError } from './errors.js';

// Public corpus from Debian's golang-github-openshift-imagebuilder-dev (scripts/install-deps.sh).
const CORPUS = '/usr/share/gocode/src/github.com/openshift/imagebuilder/dockerfile/parser';
const corpusReason = fs.existsSync(CORPUS) ? false : `${CORPUS} absent: apt-get install golang-github-openshift-imagebuilder-dev`;
const FIXTURES = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'dockerfile', 'parse');

test('public imagebuilder parser corpus: every testfiles/*/Dockerfile dumps to its result', { skip: corpusReason }, () => {
  const dirs = fs.readdirSync(path.join(CORPUS, 'testfiles')).sort();
  assert.ok(dirs.length >= 25, `corpus has ${dirs.length} cases`);
  for (const dir of dirs) {
    const base = path.join(CORPUS, 'testfiles', dir);
    const { nodes } = parseDockerfile(fs.readFileSync(path.join(base, 'Dockerfile'), 'utf8'), `${dir}/Dockerfile`);
    const got = nodes.map((n) => `(${dumpNode(n)})\n`).join('');
    assert.equal(got, fs.readFileSync(path.join(base, 'result'), 'utf8'), `case ${dir}`);
  }
});

test('public imagebuilder corpus: negative cases are refused with file:line', { skip: corpusReason }, () => {
  for (const dir of fs.readdirSync(path.join(CORPUS, 'testfiles-negative'))) {
    const text = fs.readFileSync(path.join(CORPUS, 'testfiles-negative', dir, 'Dockerfile'), 'utf8');
    assert.throws(() => parseDockerfile(text, 'Dockerfile'), (e: unknown) => e instanceof DockerfileError && /^Dockerfile:\d+: /.test(e.message), dir);
  }
});

test('public imagebuilder corpus: line ranges of testfile-line', { skip: corpusReason }, () => {
  const { nodes } = parseDockerfile(fs.readFileSync(path.join(CORPUS, 'testfile-line', 'Dockerfile'), 'utf8'));
  // Expected ranges as asserted by imagebuilder's own parser_test.go for this file.
  const expected = [[5, 5], [11, 12], [17, 31]];
  assert.deepEqual(nodes.map((n) => [n.startLine, n.endLine]), expected);
});

test('golden fixtures: each parse/<case>/Dockerfile gives expected.json or the expected error', () => {
  const cases = fs.readdirSync(FIXTURES).sort();
  assert.ok(cases.length > 0);
  for (const c of cases) {
    const dir = path.join(FIXTURES, c);
    const text = fs.readFileSync(path.join(dir, 'Dockerfile'), 'utf8');
    const errFile = path.join(dir, 'error.txt');
    if (fs.existsSync(errFile)) {
      assert.throws(() => parseDockerfile(text, 'Dockerfile'), (e: unknown) => e instanceof DockerfileError && e.message === fs.readFileSync(errFile, 'utf8').trim(), c);
      continue;
    }
    const got = parseDockerfile(text, 'Dockerfile');
    const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8'));
    assert.deepEqual(JSON.parse(JSON.stringify(got)), expected, c);
  }
});
