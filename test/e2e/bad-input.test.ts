import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { berth } from '../helpers/cli';
import { makeTar, Entry } from '../integration/images/helpers';

const skip = needsRoot('needs root (runc, overlay mounts)');

/** Hostile archives and bad arguments are refused with Docker's messages and write nothing outside. */
describe('bad input', { skip }, () => {
  let daemon: TestDaemon;
  const run = (args: string[], input?: string | Buffer) => berth(daemon.host, args, { input });
  const imageIds = async () => (await run(['images', '-aq', '--no-trunc'])).stdout.trim().split('\n').filter(Boolean).sort();
  /** A path outside every root, unique to this run, that nothing may create. */
  const outside = (what: string) => `/tmp/berth-evil-${what}-${randomBytes(4).toString('hex')}`;

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });
  const layerOf = async (image: string) => (JSON.parse((await run(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', image])).stdout) as string[])[0]!;

  it('load refuses an archive entry with ../ or an absolute path, and leaves no image', async () => {
    const before = await imageIds();
    for (const target of [outside('rel'), outside('abs')]) {
      const name = target.includes('-rel-') ? `../../../../../../../..${target}` : target;
      const archive = await makeTar([{ name, data: 'pwned\n' }, { name: 'manifest.json', data: '[]' }]);
      const r = await run(['load'], archive);
      assert.notEqual(r.code, 0, `load of ${name} must fail`);
      assert.match(r.stderr, /invalid|escapes|outside/i);
      assert.equal(existsSync(target), false, `${target} was written`);
    }
    assert.deepEqual(await imageIds(), before);
  });

  it('load refuses a layer entry with ../ and confines an absolute one; nothing is written outside', async () => {
    const before = await imageIds();
    const climbing = outside('layer-rel');
    const refused = await run(['load'], await dockerArchive('evil:1', [{ name: 'ok.txt', data: 'fine\n' }, { name: `../../../../../../../..${climbing}`, data: 'pwned\n' }]));
    assert.notEqual(refused.code, 0, `load of a layer with ../ must fail: ${refused.stdout}`);
    assert.equal(existsSync(climbing), false, `${climbing} was written`);
    assert.equal((await run(['image', 'inspect', 'evil:1'])).code, 1);
    assert.deepEqual(await imageIds(), before, 'the failed load left no image');

    // Docker joins an absolute name to the layer root: /tmp/x lands in the image's /tmp/x.
    const absolute = outside('layer-abs');
    const loaded = await run(['load'], await dockerArchive('evil:2', [{ name: absolute, data: 'confined\n' }]));
    assert.equal(existsSync(absolute), false, `${absolute} was written on the host`);
    if (loaded.code === 0) {
      await run(['create', '--name', 'abs', 'evil:2', 'none']);
      const copied = await run(['cp', `abs:${absolute}`, '-']);
      assert.match(copied.stdout, /confined/, 'the file is inside the image, at its absolute path');
      await run(['rm', 'abs']);
      await run(['rmi', 'evil:2']);
    }
    assert.deepEqual(await imageIds(), before);
  });

  it('cp of a tar with ../ into a container is refused or confined', async () => {
    await run(['run', '-d', '--name', 'target', 'busybox', 'sleep', '1000']);
    const target = outside('cp');
    const archive = await makeTar([{ name: `../../../../../../../..${target}`, data: 'pwned\n' }]);
    const r = await run(['cp', '-', 'target:/tmp'], archive);
    assert.equal(existsSync(target), false, `${target} was written on the host`);
    if (r.code === 0) {
      // Confined: whatever was written stays inside the container.
      const inside = await run(['exec', 'target', 'sh', '-c', `cat ${target} /tmp${target} 2>/dev/null; true`]);
      assert.ok(inside.code === 0);
    } else {
      assert.match(r.stderr, /invalid|escapes|outside|climbs out/i);
    }
    await run(['rm', '-f', 'target']);
  });

  it('import of a tar with a symlink x -> / and then x/etc/evil stays inside', async () => {
    const evilName = `berth-evil-${randomBytes(4).toString('hex')}`;
    const archive = await makeTar([
      { name: 'bin/', type: 'directory' },
      { name: 'x', type: 'symlink', linkname: '/' },
      { name: `x/etc/${evilName}`, data: 'pwned\n' },
      { name: `x/tmp/${evilName}`, data: 'pwned\n' },
    ]);
    const r = await run(['import', '-', 'symlinked:1'], archive);
    assert.equal(existsSync(`/etc/${evilName}`), false, 'the host /etc was written');
    assert.equal(existsSync(`/tmp/${evilName}`), false, 'the host /tmp was written');
    if (r.code === 0) {
      // Confined: the link is followed inside the image's root, as Docker does.
      await run(['create', '--name', 'symlinked', 'symlinked:1', 'none']);
      assert.match((await run(['cp', `symlinked:/etc/${evilName}`, '-'])).stdout, /pwned/);
      await run(['rm', 'symlinked']);
      await run(['rmi', 'symlinked:1']);
    }
  });

  it('save of an image with a corrupted layer blob fails, leaves no file and the daemon lives', async () => {
    await run(['tag', 'busybox', 'corrupt:1']);
    const diffId = await layerOf('busybox');
    const blob = await findBlob(daemon.dataRoot, diffId);
    assert.ok(blob, `the layer blob ${diffId} is in the content store`);
    const data = await flipByte(blob);
    try {
      const file = path.join(daemon.root, 'corrupt.tar');
      const r = await run(['save', '-o', file, 'corrupt:1']);
      assert.notEqual(r.code, 0, 'save of a corrupted image fails');
      assert.equal(existsSync(file), false, 'no truncated archive is left');
      assert.equal((await run(['version'])).code, 0, 'the daemon is still up');
      assert.match(await daemon.logs(), new RegExp(`blob ${diffId} is corrupt`));
    } finally {
      await fs.writeFile(blob, data);
      await run(['rmi', 'corrupt:1']);
    }
  });

  it('creating a container from an image whose corrupted layer is not yet unpacked fails naming the digest', async () => {
    await run(['tag', 'busybox', 'unpacked-later:1']);
    const diffId = await layerOf('busybox');
    const blob = await findBlob(daemon.dataRoot, diffId);
    assert.ok(blob);
    // A crash in the middle of unpacking leaves the layer's snapshot active, or its files
    // with no record at all; the next start drops it, so the image must be unpacked again
    // from its blob.
    await daemon.crash();
    const metadataFile = path.join(daemon.dataRoot, 'snapshots', 'metadata.json');
    const metadata = JSON.parse(await fs.readFile(metadataFile, 'utf8')) as { snapshots: Record<string, unknown> };
    assert.ok(metadata.snapshots[diffId], `the layer ${diffId} is a snapshot`);
    delete metadata.snapshots[diffId];
    await fs.writeFile(metadataFile, JSON.stringify(metadata));
    const data = await flipByte(blob);
    await daemon.restart();
    try {
      const r = await run(['create', 'unpacked-later:1', 'true']);
      assert.notEqual(r.code, 0, 'a corrupted layer must not become a container');
      assert.match(r.stderr, new RegExp(diffId), r.stderr);
    } finally {
      await fs.writeFile(blob, data);
    }
    const ok = await run(['run', '--rm', 'unpacked-later:1', 'echo', 'repaired']);
    assert.equal(ok.stdout, 'repaired\n', ok.stderr);
    await run(['rmi', 'unpacked-later:1']);
  });

  it('rejects invalid references, sizes and names with Docker messages', async () => {
    const upper = await run(['tag', 'busybox', 'UPPER']);
    assert.notEqual(upper.code, 0);
    assert.match(upper.stderr, /invalid reference format: repository name must be lowercase/);
    const size = await run(['run', '-m', 'notasize', 'busybox', 'true']);
    assert.notEqual(size.code, 0);
    assert.match(size.stderr, /invalid/i);
    // Docker's wording: plain `inspect` looks for any object, `container inspect` for a container.
    const anyObject = await run(['inspect', 'x']);
    assert.equal(anyObject.code, 1);
    assert.match(anyObject.stderr, /No such object: x/);
    for (const verb of [['container', 'inspect', 'x'], ['stop', 'x'], ['logs', 'x'], ['rm', 'x'], ['start', 'x']]) {
      const r = await run(verb);
      assert.equal(r.code, 1, `${verb.join(' ')} exits 1`);
      assert.match(r.stderr, /No such container: x/, `${verb.join(' ')}: ${r.stderr}`);
    }
    const image = await run(['image', 'inspect', 'nosuch:1']);
    assert.equal(image.code, 1);
    assert.match(image.stderr, /No such image: nosuch:1/);
  });
});

/** Flips one byte in the middle of a file; returns the original content. */
async function flipByte(file: string): Promise<Buffer> {
  const data = await fs.readFile(file);
  const flipped = Buffer.from(data);
  flipped[Math.floor(flipped.length / 2)]! ^= 0xff;
  await fs.writeFile(file, flipped);
  return data;
}

/** A docker-archive (manifest.json, config, one layer) holding `entries` as its layer. */
async function dockerArchive(tag: string, entries: Entry[]): Promise<Buffer> {
  const layer = await makeTar(entries);
  const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [diffId] }, history: [{ created_by: 'test' }] }),
  );
  const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
  const manifest = JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: ['l/layer.tar'] }]);
  return makeTar([
    { name: configName, data: config },
    { name: 'l/', type: 'directory' },
    { name: 'l/layer.tar', data: layer },
    { name: 'manifest.json', data: manifest },
  ]);
}

/** The content store file holding a blob, by its digest (the uncompressed layer is stored as is). */
async function findBlob(dataRoot: string, digest: string): Promise<string | undefined> {
  const hex = digest.replace(/^sha256:/, '');
  const walk = async (dir: string): Promise<string | undefined> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        const found = await walk(full);
        if (found) return found;
      } else if (entry.name === hex && full.includes('/blobs/')) {
        return full;
      }
    }
    return undefined;
  };
  return walk(path.join(dataRoot, 'content'));
}
