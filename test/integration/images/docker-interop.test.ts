import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { run } from '../../../src/util/exec';
import { bootstrapBusybox } from '../../../src/images/bootstrap/busybox';
import { privateDockerdSkipReason, startPrivateDockerd } from '../../helpers/private-dockerd';
import { collect, harness } from './helpers';

interface DockerTarget {
  /** Environment for the docker CLI (DOCKER_HOST of the daemon to talk to). */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/**
 * The real dockerd on /var/run/docker.sock when one runs; otherwise a private dockerd of
 * our own (CI installs docker.io but starts nothing), so the round trip always runs.
 * BERTH_TEST_PRIVATE_DOCKERD=1 forces the private one.
 */
async function dockerTarget(): Promise<DockerTarget | string> {
  const env = { ...process.env, DOCKER_CONFIG: '/nonexistent-docker-config' };
  const forcePrivate = process.env.BERTH_TEST_PRIVATE_DOCKERD === '1';
  if (!forcePrivate && (await fs.access('/var/run/docker.sock').then(() => true, () => false))) {
    const r = await run('docker', ['version', '--format', '{{.Server.Version}}'], { allowFailure: true, env }).catch(() => undefined);
    if (r?.code === 0) return { env: { ...env, DOCKER_HOST: 'unix:///var/run/docker.sock' }, stop: async () => undefined };
  }
  const reason = privateDockerdSkipReason();
  if (reason) return reason;
  const dockerd = await startPrivateDockerd();
  return { env: { ...env, DOCKER_HOST: dockerd.host }, stop: () => dockerd.stop() };
}

test('save/load round trip with real Docker, both ways', async (t) => {
  if (!(await fs.access('/bin/busybox').then(() => true, () => false))) return t.skip('busybox-static not installed');
  const target = await dockerTarget();
  if (typeof target === 'string') return t.skip(target);
  t.after(() => target.stop());
  const env = target.env;
  const a = await harness(t);
  const id = await bootstrapBusybox(a.service);
  const repo = `berth-interop-${randomBytes(4).toString('hex')}`;
  await a.service.tag(id, repo, 'v1');
  t.after(async () => {
    await run('docker', ['rmi', '-f', `${repo}:v1`, `${repo}:v2`], { allowFailure: true, env });
  });

  // berth → docker
  const archive = await collect(await a.service.save([`${repo}:v1`]));
  const loaded = await run('docker', ['load'], { input: archive, env });
  assert.match(loaded.stdout.toString(), new RegExp(`Loaded image: ${repo}:v1`));
  const inspected = JSON.parse((await run('docker', ['image', 'inspect', `${repo}:v1`], { env })).stdout.toString()) as Array<{ Id: string; Config: { Cmd: string[] } }>;
  assert.equal(inspected[0].Id, id, 'docker computes the same image ID');
  assert.deepEqual(inspected[0].Config.Cmd, ['sh']);

  // docker → berth (Docker 20.10's docker-archive: <id>/layer.tar and <hex>.json)
  await run('docker', ['tag', `${repo}:v1`, `${repo}:v2`], { env });
  const saved = await run('docker', ['save', `${repo}:v2`], { env });
  const b = await harness(t);
  const result = await b.service.load(Readable.from([saved.stdout]));
  assert.deepEqual(result.loaded, [`Loaded image: ${repo}:v2`]);
  const image = await b.service.resolve(`${repo}:v2`);
  assert.equal(image.id, id);
  const [dir] = await b.layers.lowerDirs(image.chainId!);
  assert.ok((await fs.stat(`${dir}/bin/busybox`)).size > 100_000);
});
