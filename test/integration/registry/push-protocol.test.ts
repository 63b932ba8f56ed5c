import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { RegistryClient } from '../../../src/registry/client/hosts';
import { RegistryError } from '../../../src/registry/client/errors';
import { mountBlob, putManifest, uploadBlob, uploadStream } from '../../../src/registry/client/push';
import { parseDockerRef } from '../../../src/images/reference';
import { digestOf } from '../../../src/util/digest';
import { distributionRegistrySkipReason, startDistributionRegistry, type TestRegistry } from '../../helpers/registry';
import { memoryImage } from '../../helpers/registry-image';

/**
 * The push protocol (src/registry/client/push.ts) against Debian's docker-registry
 * (distribution 2.8): every upload form, mounts, the manifest PUT, and auth failures.
 */
const skip = distributionRegistrySkipReason() ?? false;

async function fetchBlob(registry: TestRegistry, repo: string, digest: string): Promise<Buffer> {
  const res = await fetch(`${registry.url}/v2/${repo}/blobs/${digest}`);
  assert.equal(res.status, 200, `GET blob ${digest} from ${repo}`);
  return Buffer.from(await res.arrayBuffer());
}

describe('push protocol against docker-registry', { skip }, () => {
  let registry: TestRegistry;
  const client = new RegistryClient();
  before(async () => {
    registry = await startDistributionRegistry();
  });
  after(async () => {
    client.close();
    await registry?.stop();
  });
  const session = (repo: string, extraScopes: string[] = []) => client.session(parseDockerRef(`${registry.host}/${repo}`), { actions: ['push', 'pull'], extraScopes });

  test('monolithic, chunked (uneven last chunk) and streamed uploads store exactly the bytes, with progress', async () => {
    const s = session('proto/blobs');
    const data = randomBytes(300_000);
    const digest = digestOf(data);
    const seen: number[] = [];
    await uploadBlob(s, { digest, size: data.length, open: () => Readable.from([data]) }, { onProgress: (n) => seen.push(n) });
    assert.ok(await s.hasBlob(digest));
    assert.deepEqual(await fetchBlob(registry, 'proto/blobs', digest), data);
    assert.equal(seen.at(-1), data.length);

    const chunked = randomBytes(250_001);
    const chunkedDigest = digestOf(chunked);
    const progress: number[] = [];
    // Small reads, so the re-cutting into 64 KiB chunks is exercised too.
    const pieces = Array.from({ length: Math.ceil(chunked.length / 7000) }, (_, i) => chunked.subarray(i * 7000, (i + 1) * 7000));
    await uploadBlob(s, { digest: chunkedDigest, size: chunked.length, open: () => Readable.from(pieces) }, { chunkSize: 65_536, onProgress: (n) => progress.push(n) });
    assert.deepEqual(progress, [65_536, 131_072, 196_608, 250_001], 'one PATCH per chunk');
    assert.deepEqual(await fetchBlob(registry, 'proto/blobs', chunkedDigest), chunked);

    const streamed = randomBytes(123_457);
    const result = await uploadStream(s, Readable.from([streamed.subarray(0, 1000), streamed.subarray(1000)]));
    assert.deepEqual(result, { digest: digestOf(streamed), size: streamed.length });
    assert.deepEqual(await fetchBlob(registry, 'proto/blobs', result.digest), streamed);
  });

  test('a blob whose bytes do not match the digest is refused and not stored', async () => {
    const s = session('proto/bad');
    const data = randomBytes(1000);
    const wrong = digestOf(Buffer.from('something else'));
    await assert.rejects(
      uploadBlob(s, { digest: wrong, size: data.length, open: () => Readable.from([data]) }),
      (err: unknown) => err instanceof RegistryError && /digest invalid/.test(err.message) && err.status === 400,
    );
    assert.equal(await s.hasBlob(wrong), false);
    assert.equal(await s.hasBlob(digestOf(data)), false);
  });

  test('cross-repository mount: 201 from a repository that has the blob, an open upload otherwise', async () => {
    const data = randomBytes(5000);
    const digest = digestOf(data);
    await uploadBlob(session('proto/source'), { digest, size: data.length, open: () => Readable.from([data]) });
    const target = session('proto/target', ['repository:proto/source:pull']);
    assert.equal(await target.hasBlob(digest), false);
    assert.deepEqual(await mountBlob(target, digest, 'proto/source'), { mounted: true });
    assert.ok(await target.hasBlob(digest));

    const other = randomBytes(10);
    const declined = await mountBlob(session('proto/elsewhere'), digestOf(other), 'proto/source');
    assert.equal(declined.mounted, false);
    // The upload the registry opened instead takes the bytes.
    const location = declined.mounted ? '' : declined.location;
    await uploadBlob(session('proto/elsewhere'), { digest: digestOf(other), size: other.length, open: () => Readable.from([other]) }, { location });
    assert.ok(await session('proto/elsewhere').hasBlob(digestOf(other)));
  });

  test('manifest PUT by tag returns the digest of the bytes sent; a manifest naming a missing blob is refused', async () => {
    const image = await memoryImage({ docker: true });
    const s = session('proto/app');
    await uploadBlob(s, { digest: image.layerDesc.digest, size: image.layer.length, open: () => Readable.from([image.layer]) });
    await assert.rejects(putManifest(s, 'v1', image.manifestDesc.mediaType, image.manifest), (err: unknown) => err instanceof RegistryError && /manifest blob unknown/.test(err.message));
    await uploadBlob(s, { digest: image.configDesc.digest, size: image.config.length, open: () => Readable.from([image.config]) });
    assert.equal(await putManifest(s, 'v1', image.manifestDesc.mediaType, image.manifest), image.manifestDesc.digest);
    const res = await fetch(`${registry.url}/v2/proto/app/manifests/v1`, { method: 'HEAD', headers: { Accept: image.manifestDesc.mediaType } });
    assert.equal(res.headers.get('docker-content-digest'), image.manifestDesc.digest);
  });
});

describe('push protocol against docker-registry with htpasswd', { skip }, () => {
  let registry: TestRegistry;
  const client = new RegistryClient();
  before(async () => {
    registry = await startDistributionRegistry({ users: [{ username: 'alice', password: 's3cret' }] });
  });
  after(async () => {
    client.close();
    await registry?.stop();
  });

  test('without credentials an upload is Unauthorized, naming the registry; with them it works', async () => {
    const data = randomBytes(100);
    const blob = { digest: digestOf(data), size: data.length, open: () => Readable.from([data]) };
    const anonymous = client.session(parseDockerRef(`${registry.host}/team/app`), { actions: ['push', 'pull'] });
    await assert.rejects(uploadBlob(anonymous, blob), (err: unknown) => err instanceof RegistryError && err.kind === 'Unauthorized' && err.message.includes('unauthorized'));
    const alice = client.session(parseDockerRef(`${registry.host}/team/app`), { actions: ['push', 'pull'], auth: { username: 'alice', password: 's3cret' } });
    await uploadBlob(alice, blob);
    assert.ok(await alice.hasBlob(blob.digest));
  });
});
