import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon } from '../../helpers/test-daemon';
import { berth } from '../../helpers/cli';
import { distributionRegistrySkipReason, startDistributionRegistry } from '../../helpers/registry';
import { contextTar, postBuild } from '../../helpers/build-context';
import { imageTree, makeContext } from './helpers';

/**
 * `berth build --pull always|missing|never` (and docker build's `--pull`, `--pull=true|false`)
 * against a registry whose image under the tag is newer than the local one: always takes the
 * registry's, missing the local one (pulling only when there is none), never only the local
 * one, and fails clearly with nothing pulled when there is none.
 */
test('berth build --pull: always, missing, never (and --pull, --pull=true|false)', { skip: needsRoot() || distributionRegistrySkipReason() || false }, async (t) => {
  const daemon = await startTestDaemon();
  t.after(() => daemon.stop());
  const registry = await startDistributionRegistry();
  t.after(() => registry.stop());
  await registry.exposeIn(daemon.netns!);
  await bootstrapBusybox(daemon);
  const ref = `${registry.host}/lib/base:1`;
  const ok = async (args: string[]) => {
    const r = await berth(daemon.host, args, { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const present = async () => (await apiRequest(daemon.socket, 'GET', `/images/${encodeURIComponent(ref)}/json`)).status === 200;

  // The registry's ref: busybox with /marker; locally the tag will name plain busybox.
  const newer = await makeContext({ Dockerfile: 'FROM busybox\nRUN echo newer > /marker\n' });
  t.after(() => fs.rm(newer, { recursive: true, force: true }));
  await ok(['build', '-q', '-t', ref, newer]);
  await ok(['push', ref]);
  await ok(['rmi', ref]);

  const ctx = await makeContext({ Dockerfile: `FROM ${ref}\nRUN cat /marker > /seen 2>/dev/null || echo local > /seen\n` });
  t.after(() => fs.rm(ctx, { recursive: true, force: true }));
  const seen = async (tag: string) => (await imageTree(daemon, tag, '/seen')).get('seen')?.content;

  const never = await berth(daemon.host, ['build', '--pull=never', '-t', 'p:never-missing', ctx]);
  assert.equal(never.code, 1);
  assert.match(never.stderr, new RegExp(`No such image: ${ref.replace(/[.]/g, '\\.')}`));
  assert.equal(await present(), false, '--pull=never pulled nothing');
  assert.equal((await apiRequest(daemon.socket, 'GET', '/images/p:never-missing/json')).status, 404, 'and tagged nothing');

  await ok(['tag', 'busybox', ref]);
  for (const [flag, expected] of [['--pull=never', 'local'], ['--pull=missing', 'local'], ['--pull=false', 'local'], ['--pull=always', 'newer'], ['--pull', 'newer'], ['--pull=true', 'newer']] as const) {
    await ok(['tag', 'busybox', ref]);
    const tag = `p:${flag.replace(/\W+/g, '')}`;
    await ok(['build', '-q', '--no-cache', flag, '-t', tag, ctx]);
    assert.equal(await seen(tag), `${expected}\n`, flag);
  }

  await ok(['rmi', ref]);
  await ok(['build', '-q', '--no-cache', '-t', 'p:default', ctx]);
  assert.equal(await seen('p:default'), 'newer\n', 'the default (missing) pulls an image that is not here');

  const bad = await berth(daemon.host, ['build', '--pull=sometimes', ctx]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid --pull "sometimes": must be one of "always", "missing" or "never"/);

  // The API: dockerd's bool (pull=1 always) and berth's pull=never.
  await ok(['rmi', ref]);
  const apiNever = await postBuild(daemon.socket, 'pull=never', await contextTar([{ name: 'Dockerfile', content: `FROM ${ref}\n` }]));
  assert.ok(apiNever.messages.some((m) => /No such image/.test(JSON.stringify(m.errorDetail ?? ''))), apiNever.body);
  assert.equal(await present(), false);
});
