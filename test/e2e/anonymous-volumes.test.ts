import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { berth, docker, DOCKER_CLIENTS } from '../helpers/cli';

const skip = needsRoot('needs root (runc, overlay mounts)') || (DOCKER_CLIENTS.length === 0 ? 'no docker CLI installed' : false);

interface MountPoint {
  Type: string;
  Name?: string;
  Source: string;
  Destination: string;
}

/**
 * Anonymous volumes, as dockerd makes them: `-v /path` (and an image's VOLUME, and a volume
 * --mount without a source) gets a volume of the container's own, named by 64 hex digits and
 * labelled anonymous; `rm -v` and `--rm` remove those, never named ones.
 */
describe('anonymous volumes and rm -v', { skip }, () => {
  let daemon: TestDaemon;
  const client = DOCKER_CLIENTS[0]!;
  const ok = async (args: string[]) => {
    const r = await docker(client, daemon.host, args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const volumeNames = async () => (await ok(['volume', 'ls', '-q'])).split('\n').filter(Boolean).sort();
  const mountsOf = async (name: string) => JSON.parse(await ok(['inspect', '--format', '{{json .Mounts}}', name])) as MountPoint[];

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('-v /path and --mount type=volume get volumes of their own, mounted and shown in inspect', async () => {
    await ok(['create', '--name', 'anon', '-v', '/data', '--mount', 'type=volume,target=/m', '-v', 'keepme:/named', 'busybox', 'sh', '-c', 'echo one > /data/f; echo two > /m/f; echo three > /named/f']);
    await ok(['start', '-a', 'anon']);
    const mounts = await mountsOf('anon');
    const byDestination = new Map(mounts.map((m) => [m.Destination, m]));
    for (const destination of ['/data', '/m']) {
      const mount = byDestination.get(destination);
      assert.ok(mount, `no mount at ${destination}: ${JSON.stringify(mounts)}`);
      assert.equal(mount.Type, 'volume');
      assert.match(mount.Name ?? '', /^[0-9a-f]{64}$/);
    }
    assert.equal(byDestination.get('/named')?.Name, 'keepme');
    assert.equal(await fs.readFile(`${byDestination.get('/data')!.Source}/f`, 'utf8'), 'one\n', 'the process wrote into the volume');
    assert.equal(await fs.readFile(`${byDestination.get('/m')!.Source}/f`, 'utf8'), 'two\n');
    const labels = JSON.parse(await ok(['volume', 'inspect', '--format', '{{json .Labels}}', byDestination.get('/data')!.Name!])) as Record<string, string>;
    assert.deepEqual(labels, { 'com.docker.volume.anonymous': '' });
    // In use: volume prune leaves them alone.
    await ok(['volume', 'prune', '-f']);
    assert.deepEqual(await volumeNames(), [byDestination.get('/data')!.Name!, byDestination.get('/m')!.Name!, 'keepme'].sort());
  });

  it('rm -v removes the anonymous volumes and keeps the named one', async () => {
    const anonymous = (await mountsOf('anon')).filter((m) => m.Name !== 'keepme').map((m) => m.Name!);
    await ok(['rm', '-v', 'anon']);
    const left = await volumeNames();
    for (const name of anonymous) assert.equal(left.includes(name), false, `${name} is still there`);
    assert.ok(left.includes('keepme'));
  });

  it('rm without -v keeps them; --rm removes them; berth rm -v too', async () => {
    await ok(['create', '--name', 'kept', '-v', '/data', 'busybox', 'true']);
    const [kept] = (await mountsOf('kept')).map((m) => m.Name!);
    await ok(['rm', 'kept']);
    assert.ok((await volumeNames()).includes(kept!), 'rm without -v keeps the volume');

    const before = await volumeNames();
    await ok(['run', '--rm', '-v', '/scratch', 'busybox', 'sh', '-c', 'echo x > /scratch/f']);
    assert.deepEqual(await volumeNames(), before, '--rm left no volume');

    await ok(['create', '--name', 'viaberth', '-v', '/data', 'busybox', 'true']);
    const [own] = (await mountsOf('viaberth')).map((m) => m.Name!);
    const r = await berth(daemon.host, ['rm', '-v', 'viaberth']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await volumeNames()).includes(own!), false);
    await ok(['volume', 'rm', kept!, 'keepme']);
  });
  it('--volumes-from shares every mount of the source (:ro read-only), keeps its volumes in use, and refuses an unknown source with a 400', async () => {
    const bindDir = await fs.mkdtemp(`${daemon.root}/bind-`);
    await ok(['create', '--name', 'source', '-v', 'shared-named:/n', '-v', '/anon', '-v', `${bindDir}:/b`, 'busybox', 'true']);
    const out = await ok(['run', '--rm', '--volumes-from', 'source', 'busybox', 'sh', '-c', 'echo n > /n/f && echo a > /anon/f && echo b > /b/f && echo written']);
    assert.match(out, /written/);
    assert.equal(await fs.readFile(`${bindDir}/f`, 'utf8'), 'b\n', 'the bind is the same folder');
    const ro = await docker(client, daemon.host, ['run', '--rm', '--volumes-from', 'source:ro', 'busybox', 'sh', '-c', 'cat /n/f /anon/f /b/f; touch /n/g']);
    assert.match(ro.stdout, /^n\na\nb\n/);
    assert.match(ro.stderr, /Read-only file system/);

    // Inspect lists them as the source's (read-only with :ro).
    await ok(['create', '--name', 'consumer', '--volumes-from', 'source:ro', 'busybox', 'true']);
    const source = await mountsOf('source');
    const consumer = (await mountsOf('consumer')) as Array<MountPoint & { RW: boolean }>;
    assert.deepEqual(consumer.map((m) => [m.Destination, m.Type, m.Name ?? m.Source, m.RW]).sort(), source.map((m) => [m.Destination, m.Type, m.Name ?? m.Source, false]).sort());
    assert.deepEqual(JSON.parse(await ok(['inspect', '--format', '{{json .HostConfig.VolumesFrom}}', 'consumer'])), ['source:ro']);

    // The source gone, the consumer still holds the named volume: 409 on its removal.
    await ok(['rm', 'source']);
    const inUse = await docker(client, daemon.host, ['volume', 'rm', 'shared-named']);
    assert.notEqual(inUse.code, 0);
    assert.match(inUse.stderr, /volume is in use/);
    await ok(['rm', 'consumer']);
    await ok(['volume', 'rm', 'shared-named']);

    for (const [from, message] of [['nobody', /No such container: nobody/], ['consumer2:xx', /invalid mode: xx/]] as const) {
      const bad = await docker(client, daemon.host, ['create', '--volumes-from', from, 'busybox', 'true']);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, message);
      assert.doesNotMatch(bad.stderr, /Unable to find image/, 'a 400, not a 404 (the CLI would pull)');
    }
  });
});
