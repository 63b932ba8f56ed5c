import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { contextFilter, loadContextFilter, parseIgnoreFile } from './dockerignore.js';

const CASES = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'dockerfile', 'dockerignore', 'cases.json');

test('.dockerignore semantics: every path of the fixture is excluded or kept as Docker does', () => {
  const { ignore, paths } = JSON.parse(fs.readFileSync(CASES, 'utf8')) as { ignore: string; paths: Record<string, boolean> };
  const filter = contextFilter(parseIgnoreFile(ignore));
  for (const [p, excluded] of Object.entries(paths)) assert.equal(filter.excludes(p), excluded, p);
});

test('Dockerfile.dockerignore beside the Dockerfile wins over the context .dockerignore', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-dockerignore-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  assert.equal(loadContextFilter(dir, 'Dockerfile').source, null);
  fs.writeFileSync(path.join(dir, '.dockerignore'), 'a\n');
  assert.ok(loadContextFilter(dir, 'Dockerfile').excludes('a'));
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'app.Dockerfile.dockerignore'), 'b\n');
  const f = loadContextFilter(dir, 'sub/app.Dockerfile');
  assert.equal(f.source, path.join(dir, 'sub', 'app.Dockerfile.dockerignore'));
  assert.ok(f.excludes('b'));
  assert.ok(!f.excludes('a'));
});
