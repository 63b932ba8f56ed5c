import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessRules } from './access-rules';

const RULES = `
groups:
  team-a: [alice, bob]
rules:
  - repository: "team-a/*"
    pull: ["@team-a", carol]
    push: ["@team-a"]
    delete: [alice]
  - repository: "public/**"
    pull: ["*"]
    push: [alice]
    anonymousPull: true
  - repository: "library/busybox"
    pull: "*"
`;

test('access rules: globs, groups, "*" for logged-in users, anonymous pull per repository', () => {
  const rules = AccessRules.parse(RULES);
  assert.deepEqual(rules.allowedActions('alice', 'team-a/app'), ['pull', 'push', 'delete']);
  assert.deepEqual(rules.allowedActions('bob', 'team-a/app'), ['pull', 'push']);
  assert.deepEqual(rules.allowedActions('carol', 'team-a/app'), ['pull']);
  assert.deepEqual(rules.allowedActions('dave', 'team-a/app'), []);
  assert.deepEqual(rules.allowedActions(undefined, 'team-a/app'), []);
  // `*` stays in one path component; `**` crosses "/".
  assert.deepEqual(rules.allowedActions('alice', 'team-a/app/sub'), []);
  assert.deepEqual(rules.allowedActions('dave', 'public/x/y/z'), ['pull']);
  assert.deepEqual(rules.allowedActions(undefined, 'public/x'), ['pull']);
  assert.deepEqual(rules.allowedActions('alice', 'public/x'), ['pull', 'push']);
  assert.deepEqual(rules.allowedActions('dave', 'library/busybox'), ['pull']);
  assert.deepEqual(rules.allowedActions(undefined, 'library/busybox'), []);
  // Nothing matches: closed.
  assert.deepEqual(rules.allowedActions('alice', 'team-b/app'), []);
});

test('access rules: the first matching rule decides', () => {
  const rules = AccessRules.parse(JSON.stringify({
    rules: [
      { repository: 'team-a/secret', pull: ['alice'] },
      { repository: 'team-a/*', pull: ['*'], push: ['*'] },
    ],
  }));
  assert.deepEqual(rules.allowedActions('bob', 'team-a/secret'), []);
  assert.deepEqual(rules.allowedActions('alice', 'team-a/secret'), ['pull']);
  assert.deepEqual(rules.allowedActions('bob', 'team-a/other'), ['pull', 'push']);
});

test('access rules: mistakes are refused naming the file, the rule and the key', () => {
  const bad: Array<[string, RegExp]> = [
    ['rules: {}', /acl: "rules" must be a list/],
    ['[1, 2]', /acl: expected a mapping with "rules"/],
    ['users: []\nrules: []', /acl: unknown key "users"/],
    ['rules:\n  - pull: [alice]', /acl: rules\[0\]: "repository" must be a non-empty glob/],
    ['rules:\n  - repository: x\n    pul: [alice]', /acl: rules\[0\]: unknown key "pul"/],
    ['rules:\n  - repository: x\n    pull: [1]', /acl: rules\[0\]\.pull: expected a list of user names/],
    ['rules:\n  - repository: x\n    push: ["@nobody"]', /acl: rules\[0\]\.push: unknown group "@nobody"/],
    ['rules:\n  - repository: x\n    anonymousPull: yes please', /acl: rules\[0\]: "anonymousPull" must be true or false/],
    ['rules: [\n', /acl: not valid YAML or JSON/],
  ];
  for (const [text, message] of bad) assert.throws(() => AccessRules.parse(text, 'acl'), message, text);
});
