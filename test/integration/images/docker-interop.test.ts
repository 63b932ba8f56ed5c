import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { run } from '../../../src/util/exec';
import { bootstrapBusybox } from '../../../src/images/bootstrap/busybox';
import { collect, harness } from './helpers';

/** The real docker CLI against the real dockerd, when one is running on /var/run/docker.sock. */
async function dockerAvailable(): Promise<string | undefined> {
  try {
    await fs.access('/var/run/docker.sock');
    const r = await run('docker', ['version', '--format', '{{.Server.Version}}'], { allowFailure: true });
    return r.code === 0 ? undefined : `docker daemon not reachable: ${r.stderr.toString().trim()}`;
  } catch {
    return 'no docker CLI or /var/run/docker.sock';
  }
}

test('save/load round trip with real Docker, both ways', async (t) => {
  const reason = await dockerAvailable();
  if (reason) return t.skip(reason);
  if (!(await fs.access('/bin/busybox').then(() => true, () => false))) return t.skip('busybox-static not installed');
  const a = await harness(t);
  const id = await bootstrapBusybox(a.service);
  const repo = `berth-interop-${randomBytes(4).toString('hex')}`;
  await a.service.tag(id, repo, 'v1');
  t.after(async () => {
    await run('docker', ['rmi', '-f', `${repo}:v1`, `${repo}:v2`], { allowFailure: true });
  });

  // berth → docker
  const archive = await collect(await a.service.save([`${repo}:v1`]));
  const loaded = await run('docker', ['load'], { input: archive });
  assert.match(loaded.stdout.toString(), new RegExp(`Loaded image: ${repo}:v1`));
  const inspected = JSON.parse((await run('docker', ['image', 'inspect', `${repo}:v1`])).stdout.toString()) as Array<{ Id: string; Config: { Cmd: string[] } }>;
  assert.equal(inspected[0].Id, id, 'docker computes the same image ID');
  assert.deepEqual(inspected[0].Config.Cmd, ['sh']);

  // docker → berth (Docker 20.10's docker-archive: <id>/layer.tar and <hex>.json)
  await run('docker', ['tag', `${repo}:v1`, `${repo}:v2`]);
  const saved = await run('docker', ['save', `${repo}:v2`]);
  const b = await harness(t);
  const result = await b.service.load(Readable.from([saved.stdout]));
  assert.deepEqual(result.loaded, [`Loaded image: ${repo}:v2`]);
  const image = await b.service.resolve(`${repo}:v2`);
  assert.equal(image.id, id);
  const [dir] = await b.layers.lowerDirs(image.chainId!);
  assert.ok((await fs.stat(`${dir}/bin/busybox`)).size > 100_000);
});
