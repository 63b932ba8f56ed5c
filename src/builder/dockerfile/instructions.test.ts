import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { buildPlan, parseGoDuration } from './instructions.js';
import { DockerfileError } from './errors.js';
import { stagesForTarget, StageGraphError, platformArgs } from './stages.js';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'dockerfile', 'instructions');

test('golden fixtures: each instructions/<case>/Dockerfile gives expected.json or error.txt (file:line)', () => {
  const cases = fs.readdirSync(FIXTURES).sort();
  assert.ok(cases.length > 0);
  for (const c of cases) {
    const dir = path.join(FIXTURES, c);
    const text = fs.readFileSync(path.join(dir, 'Dockerfile'), 'utf8');
    const argsFile = path.join(dir, 'build-args.json');
    const args = fs.existsSync(argsFile) ? JSON.parse(fs.readFileSync(argsFile, 'utf8')) : {};
    const errFile = path.join(dir, 'error.txt');
    if (fs.existsSync(errFile)) {
      const want = fs.readFileSync(errFile, 'utf8').trim();
      assert.throws(() => buildPlan(text, 'Dockerfile', args), (e: unknown) => e instanceof DockerfileError && e.message === want, c);
      continue;
    }
    const got = JSON.parse(JSON.stringify(buildPlan(text, 'Dockerfile', args)));
    assert.deepEqual(got, JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')), c);
  }
});

const MULTI = `ARG BASE=busybox
FROM \${BASE} AS deps
RUN echo deps
FROM busybox AS unused
RUN echo unused
FROM golang AS build
COPY --from=deps /a /a
RUN --mount=type=cache,target=/root/.cache,from=1 true
FROM build AS final
COPY --from=alpine:3 /etc/os-release /
`;

test('stage graph: a target builds only what it needs, dependencies first', () => {
  const plan = buildPlan(MULTI, 'Dockerfile');
  assert.equal(plan.stages[0].from.image, 'busybox');
  assert.deepEqual(stagesForTarget(plan).map((s) => s.name), ['deps', 'unused', 'build', 'final']);
  assert.deepEqual(stagesForTarget(plan, 'deps').map((s) => s.name), ['deps']);
  assert.throws(() => stagesForTarget(plan, 'nope'), StageGraphError);
  const noMount = buildPlan(MULTI.replace(',from=1', ''), 'Dockerfile');
  assert.deepEqual(stagesForTarget(noMount).map((s) => s.name), ['deps', 'build', 'final']);
  assert.equal(buildPlan(MULTI, 'Dockerfile', { BASE: 'alpine' }).stages[0].from.image, 'alpine');
});

test('durations and platform args', () => {
  assert.equal(parseGoDuration('1m30s'), 90e9);
  assert.equal(parseGoDuration('500ms'), 5e8);
  assert.equal(parseGoDuration('10'), null);
  assert.deepEqual(platformArgs('linux/arm64/v8', 'linux/amd64').TARGETVARIANT, 'v8');
});
