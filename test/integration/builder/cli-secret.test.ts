import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tarStream from 'tar-stream';
import { Readable } from 'node:stream';
import { bootstrapBusybox, needsRoot, startTestDaemon } from '../../helpers/test-daemon';
import { berth } from '../../helpers/cli';
import { history, imageTree, makeContext } from './helpers';

/** Every file's bytes in an image archive (`berth save`), layers unpacked, so a value can be searched for anywhere. */
async function archiveContents(archive: Buffer): Promise<Buffer[]> {
  const out: Buffer[] = [];
  const walk = async (data: Buffer): Promise<void> => {
    const extract = tarStream.extract();
    const done = new Promise<void>((resolve, reject) => {
      extract.on('finish', resolve);
      extract.on('error', reject);
    });
    const inner: Buffer[] = [];
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        out.push(Buffer.from(header.name), body);
        if (body.length > 512 && body.subarray(257, 262).toString('latin1') === 'ustar') inner.push(body);
        next();
      });
    });
    Readable.from([data]).pipe(extract);
    await done;
    for (const layer of inner) await walk(layer);
  };
  await walk(archive);
  return out;
}

test('berth build --secret id=…,src=…: RUN --mount=type=secret reads it; it is in no layer, config or history (in place and with a tar context)', { skip: needsRoot() }, async (t) => {
  const daemon = await startTestDaemon();
  t.after(() => daemon.stop());
  await bootstrapBusybox(daemon);
  const secret = `s3cret-${randomBytes(8).toString('hex')}`;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'secret-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const secretFile = path.join(dir, 'token.txt');
  await fs.writeFile(secretFile, secret, { mode: 0o600 });
  const ctx = await makeContext({
    Dockerfile: [
      'FROM busybox',
      'RUN --mount=type=secret,id=token,required=true md5sum < /run/secrets/token > /token.md5 && ls -l /run/secrets > /listing',
      'RUN --mount=type=secret,id=token,target=/etc/app/key cat /etc/app/key | wc -c > /key-length',
      '',
    ].join('\n'),
  });
  t.after(() => fs.rm(ctx, { recursive: true, force: true }));
  const md5 = execFileSync('md5sum', { input: secret }).toString();

  for (const [how, args, input] of [
    ['in place', ['build', '-t', 'secret:inplace', '--secret', `id=token,src=${secretFile}`, ctx], undefined],
    ['tar on stdin', ['build', '-t', 'secret:tar', '--secret', `id=token,src=${secretFile}`, '-'], execFileSync('tar', ['-cf', '-', '-C', ctx, '.'])],
  ] as const) {
    const r = await berth(daemon.host, [...args], input ? { input } : {});
    assert.equal(r.code, 0, `${how}: ${r.stderr}`);
    const tag = args[2];
    assert.equal((await imageTree(daemon, tag, '/token.md5')).get('token.md5')?.content, md5, `${how}: RUN read the secret`);
    assert.equal((await imageTree(daemon, tag, '/key-length')).get('key-length')?.content?.trim(), String(secret.length), `${how}: at a target of its own`);
    const tree = await imageTree(daemon, tag, '/');
    assert.ok(![...tree.keys()].some((p) => /(^|\/)run(\/|$)|etc\/app/.test(p.replace(/^(\.?\/)+/, ''))), `${how}: no mount point left: ${[...tree.keys()].filter((p) => /run|app/.test(p)).join(' ')}`);
    const saved = await berth(daemon.host, ['save', tag]);
    assert.equal(saved.code, 0, saved.stderr);
    const contents = await archiveContents(saved.stdoutBytes);
    assert.ok(contents.some((b) => b.toString() === 'token.md5'), 'the layers were unpacked and searched too');
    assert.ok(!contents.some((b) => b.includes(secret)), `${how}: the secret is in no layer, config or manifest`);
    assert.ok(!JSON.stringify(await history(daemon, tag)).includes(secret), `${how}: nor in the history`);
    assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `${how}: nor in the output`);
  }

  const missing = await berth(daemon.host, ['build', '--no-cache', ctx]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Dockerfile:2: secret token: not provided/);
  const badSpec = await berth(daemon.host, ['build', '--secret', `src=${secretFile}`, ctx]);
  assert.equal(badSpec.code, 1);
  assert.match(badSpec.stderr, /--secret src=.*: id= is required/);
});
