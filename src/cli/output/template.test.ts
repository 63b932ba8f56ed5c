import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTemplate } from './template';
import { renderList } from './format';

const inspect = { Id: 'abc', State: { Status: 'running', Running: true }, Config: { Env: ['A=1', 'B=2'], Labels: { 'com.x': 'y' }, Cmd: ['sh', '-c', 'x'] }, Mounts: [{ Source: '/a' }, { Source: '/b' }] };

test('fields, nested fields, json, index', () => {
  assert.equal(renderTemplate('{{.State.Status}}', inspect), 'running');
  assert.equal(renderTemplate('{{json .Config.Cmd}}', inspect), '["sh","-c","x"]');
  assert.equal(renderTemplate('{{index .Config.Labels "com.x"}}', inspect), 'y');
  assert.equal(renderTemplate('{{.Config.Env}}', inspect), '[A=1 B=2]');
  assert.equal(renderTemplate('{{.Missing}}', inspect), '<no value>');
  assert.equal(renderTemplate('{{join .Config.Env ","}}', inspect), 'A=1,B=2');
});

test('pipelines, if/else, range, with and trimming', () => {
  assert.equal(renderTemplate('{{.State.Status | upper}}', inspect), 'RUNNING');
  assert.equal(renderTemplate('{{if .State.Running}}up{{else}}down{{end}}', inspect), 'up');
  assert.equal(renderTemplate('{{if eq .State.Status "exited"}}x{{else if .State.Running}}r{{end}}', inspect), 'r');
  assert.equal(renderTemplate('{{range .Mounts}}{{.Source}};{{end}}', inspect), '/a;/b;');
  assert.equal(renderTemplate('{{with .State}}{{.Status}}{{end}}', inspect), 'running');
  assert.equal(renderTemplate('a {{- " b " -}} c', {}), 'a b c');
  assert.equal(renderTemplate('{{printf "%s-%d" .Id 3}}', inspect), 'abc-3');
  assert.equal(renderTemplate('{{$.Id}}{{range .Mounts}}{{$.Id}}{{end}}', inspect), 'abcabcabc');
});

test('methods with arguments on a context', () => {
  const ctx = { Label: (k: string) => (k === 'a' ? 'b' : ''), Names: 'web' };
  assert.equal(renderTemplate('{{.Names}} {{.Label "a"}}', ctx), 'web b');
});

test('table format prints headers and aligns columns like tabwriter', () => {
  const items = [{ ID: 'abc', Names: 'web' }, { ID: 'defghijklmnopq', Names: 'db' }];
  const text = renderList('table {{.ID}}\t{{.Names}}', items, { defaultTable: '', headers: { ID: 'CONTAINER ID', Names: 'NAMES' } });
  assert.equal(text, 'CONTAINER ID     NAMES\nabc              web\ndefghijklmnopq   db\n');
  assert.equal(renderList('{{.Names}}', items, { defaultTable: '', headers: {} }), 'web\ndb\n');
  assert.equal(renderList('json', [{ a: 1 }], { defaultTable: '', headers: {} }), '{"a":1}\n');
});
