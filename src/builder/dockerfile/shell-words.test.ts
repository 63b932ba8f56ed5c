import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { envLookup, processWord, processWords, ShellWordError } from './shell-words.js';

const CASES = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'dockerfile', 'expand', 'cases.json');

interface Case { in: string; out?: string; words?: string[]; error?: string; escape?: string }

test('shell-word expansion: every case of test/fixtures/dockerfile/expand/cases.json', () => {
  const { env, cases } = JSON.parse(fs.readFileSync(CASES, 'utf8')) as { env: string[]; cases: Case[] };
  const lookup = envLookup(env);
  for (const c of cases) {
    const esc = c.escape ?? '\\';
    if (c.error !== undefined) {
      assert.throws(() => processWord(c.in, lookup, esc), (e: unknown) => e instanceof ShellWordError && e.message === c.error, c.in);
    } else if (c.words !== undefined) {
      assert.deepEqual(processWords(c.in, lookup, esc), c.words, c.in);
    } else {
      assert.equal(processWord(c.in, lookup, esc), c.out, c.in);
    }
  }
});
