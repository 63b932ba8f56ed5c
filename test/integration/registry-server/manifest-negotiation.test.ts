import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeFixtureImage, type FixtureImage } from '../../helpers/fixture-image';
import { podmanSkipReason, podmanWithRegistry } from '../../helpers/podman';
import { privateDockerdSkipReason, startPrivateDockerd, type PrivateDockerd } from '../../helpers/private-dockerd';
import { berthRegistrySkipReason, distributionRegistrySkipReason, startBerthRegistry, startDistributionRegistry, type TestRegistry } from '../../helpers/registry';
import { needsRoot } from '../../helpers/root';
import { mustSucceed, skopeo, skopeoCopy, skopeoSkipReason } from '../../helpers/skopeo';
import { dockerPeer, ok, type DockerPeer } from '../registry/peers';

/**
 * Manifest content negotiation of `berth registry serve`: which manifest a GET/HEAD answers
 * for the client's Accept header, and its Content-Type, Docker-Content-Digest, ETag and
 * Content-Length. Side by side with Debian's docker-registry (distribution 2.8) over the same
 * documents, then with real clients (skopeo, podman, docker CLI 28 through a private dockerd)
 * pulling each kind.
 */

const T = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
};
const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(port: number, method: string, urlPath: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers: body ? { ...headers, 'Content-Length': String(body.length) } : headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Stored {
  digest: string;
  size: number;
  mediaType: string;
}

/** The same documents, byte for byte, in repository `neg/app` of a registry (plain HTTP API). */
async function fill(port: number, repo: string): Promise<Record<string, Stored>> {
  const blob = async (data: Buffer) => {
    const digest = sha256(data);
    // POST then PUT: distribution 2.8 takes no monolithic POST.
    const started = await request(port, 'POST', `/v2/${repo}/blobs/uploads/`);
    assert.equal(started.status, 202, started.body.toString());
    const location = new URL(started.headers.location!, 'http://registry.invalid');
    location.searchParams.set('digest', digest);
    const res = await request(port, 'PUT', location.pathname + location.search, { 'Content-Type': 'application/octet-stream' }, data);
    assert.equal(res.status, 201, res.body.toString());
    return { digest, size: data.length };
  };
  const put = async (ref: string, mediaType: string, doc: Record<string, unknown>): Promise<Stored> => {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, ...doc }, null, 3));
    const res = await request(port, 'PUT', `/v2/${repo}/manifests/${ref}`, { 'Content-Type': mediaType }, body);
    assert.equal(res.status, 201, `${ref}: ${res.body.toString()}`);
    return { digest: sha256(body), size: body.length, mediaType };
  };
  const config = await blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })));
  const layer = await blob(Buffer.from('negotiation layer'));
  const platform = (architecture: string) => ({ platform: { architecture, os: 'linux' } });
  const dm = await put('dm', T.dockerManifest, { config: { mediaType: 'application/vnd.docker.container.image.v1+json', ...config }, layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', ...layer }] });
  const om = await put('om', T.ociManifest, { config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }] });
  const dl = await put('dl', T.dockerList, { manifests: [{ ...dm, ...platform('arm64') }, { ...dm, ...platform('amd64') }] });
  const oi = await put('oi', T.ociIndex, { manifests: [{ ...om, ...platform('amd64') }] });
  const dlOci = await put('dlOci', T.dockerList, { manifests: [{ ...om, ...platform('amd64') }] });
  const dlArm = await put('dlArm', T.dockerList, { manifests: [{ ...dm, ...platform('arm64') }] });
  return { dm, om, dl, oi, dlOci, dlArm };
}

const ACCEPTS: Record<string, string[]> = {
  none: [],
  any: ['*/*'],
  json: ['application/json'],
  dockerManifest: [T.dockerManifest],
  dockerManifestQ: [`${T.dockerManifest};q=0.9`],
  dockerList: [T.dockerList],
  docker: [`${T.dockerManifest}, ${T.dockerList}`],
  ociManifest: [T.ociManifest],
  ociIndex: [T.ociIndex],
  oci: [`${T.ociManifest}, ${T.ociIndex}`],
  ociTwoHeaders: [T.ociManifest, T.ociIndex],
  all: [Object.values(T).join(',')],
};

describe('manifest content negotiation', { skip: needsRoot() || berthRegistrySkipReason() || false }, () => {
  test('GET and HEAD answer every Accept header as distribution 2.8 does, except its schema 1 rewrite', { skip: distributionRegistrySkipReason() ?? false }, async () => {
    const distribution = await startDistributionRegistry();
    const berth = await startBerthRegistry();
    try {
      const stored = await fill(distribution.port, 'neg/app');
      assert.deepEqual(await fill(berth.port, 'neg/app'), stored, 'the same bytes in both');
      const names = new Map(Object.entries(stored).map(([k, v]) => [v.digest, k]));
      const show = (a: Answer, method: string) => ({
        status: a.status,
        contentType: a.headers['content-type'],
        digest: names.get(a.headers['docker-content-digest'] as string) ?? a.headers['docker-content-digest'],
        etag: a.headers.etag,
        length: a.headers['content-length'],
        body: method === 'GET' ? (a.status === 200 ? names.get(sha256(a.body)) : a.body.toString().trim()) : undefined,
      });
      const refs = [...Object.keys(stored), ...['dm', 'om', 'dl', 'oi'].map((k) => `@${k}`)];
      let compared = 0;
      let rewrites = 0;
      for (const ref of refs) {
        const byDigest = ref.startsWith('@');
        const target = byDigest ? stored[ref.slice(1)].digest : ref;
        for (const [acceptName, accept] of Object.entries(ACCEPTS)) {
          for (const method of ['GET', 'HEAD']) {
            const ask = async (port: number) => {
              // Several Accept headers, as clients send them (node sends an array as repeated headers).
              const headers: Record<string, string> = accept.length === 0 ? {} : { Accept: accept as unknown as string };
              return show(await request(port, method, `/v2/neg/app/manifests/${target}`, headers), method);
            };
            const [d, b] = [await ask(distribution.port), await ask(berth.port)];
            const what = `${method} ${ref} Accept: ${acceptName}`;
            const served = ref === 'dm' ? 'dm' : ref === 'dl' && !accept.join(',').includes(T.dockerList) ? 'dm' : undefined;
            if (served === 'dm' && !accept.join(',').includes(T.dockerManifest)) {
              // Distribution rewrites schema 2 into a signed schema 1 for such a client (and fails
              // to here: the config has no history); berth has no schema 1 and serves schema 2.
              assert.notEqual(d.status, 200, what);
              assert.deepEqual(b, { status: 200, contentType: T.dockerManifest, digest: 'dm', etag: `"${stored.dm.digest}"`, length: String(stored.dm.size), body: method === 'GET' ? 'dm' : undefined }, what);
              rewrites++;
              continue;
            }
            assert.deepEqual(b, d, what);
            compared++;
          }
        }
      }
      assert.ok(compared > 150 && rewrites > 0, `${compared} compared, ${rewrites} schema 1 rewrites`);
      // The cases the table is about, spelled out.
      const get = async (ref: string, accept: string) => request(berth.port, 'GET', `/v2/neg/app/manifests/${ref}`, { Accept: accept });
      const oci = await get('om', T.dockerManifest);
      assert.equal(oci.status, 404);
      assert.equal(oci.headers['content-type'], 'application/json; charset=utf-8');
      assert.deepEqual(JSON.parse(oci.body.toString()), { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'OCI manifest found, but accept header does not support OCI manifests' }] });
      const child = await get('dl', T.dockerManifest);
      assert.equal(child.headers['docker-content-digest'], stored.dm.digest, 'an old client gets the linux/amd64 entry');
    } finally {
      await berth.stop();
      await distribution.stop();
    }
  });

  describe('real clients pull each kind from berth\'s registry', { skip: skopeoSkipReason() ?? false }, () => {
    let tmp: string;
    let registry: TestRegistry;
    let oci: FixtureImage;
    let docker: FixtureImage;
    /** tag → the digest a client must report for it, and the image ID it yields. */
    const tags = new Map<string, { digest: string; imageId: string }>();
    before(async () => {
      tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'neg-'));
      registry = await startBerthRegistry();
      oci = await makeFixtureImage(path.join(tmp, 'oci'), { dataLayers: [200_000], seed: 'negotiation-oci' });
      docker = await makeFixtureImage(path.join(tmp, 'docker'), { format: 'docker', dataLayers: [200_000], seed: 'negotiation-docker' });
      mustSucceed(await skopeoCopy(oci.skopeoRef, `docker://${registry.host}/neg/app:oci`), 'skopeo copy');
      tags.set('oci', { digest: oci.manifestDigest, imageId: oci.imageId });
      // skopeo reads no schema 2 manifest from an OCI layout: its bytes go up as they are.
      for (const digest of [docker.configDigest, ...docker.layers.map((l) => l.digest)]) {
        const res = await request(registry.port, 'POST', `/v2/neg/app/blobs/uploads/?digest=${digest}`, { 'Content-Type': 'application/octet-stream' }, await docker.blob(digest));
        assert.equal(res.status, 201, res.body.toString());
      }
      const put = await request(registry.port, 'PUT', '/v2/neg/app/manifests/docker', { 'Content-Type': T.dockerManifest }, await docker.blob(docker.manifestDigest));
      assert.equal(put.status, 201, put.body.toString());
      tags.set('docker', { digest: docker.manifestDigest, imageId: docker.imageId });
      // A Docker manifest list and an OCI index over them (linux/amd64 and a foreign entry).
      const lists: Array<[string, string, FixtureImage]> = [['dockerlist', T.dockerList, docker], ['ociindex', T.ociIndex, oci]];
      for (const [tag, mediaType, image] of lists) {
        const entry = { mediaType: image.manifestMediaType, digest: image.manifestDigest, size: image.manifestSize };
        const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: [{ ...entry, platform: { architecture: 's390x', os: 'linux' } }, { ...entry, platform: { architecture: 'amd64', os: 'linux' } }] }));
        const res = await request(registry.port, 'PUT', `/v2/neg/app/manifests/${tag}`, { 'Content-Type': mediaType }, body);
        assert.equal(res.status, 201, res.body.toString());
        tags.set(tag, { digest: sha256(body), imageId: image.imageId });
      }
    });
    after(async () => {
      await registry?.stop();
      await fs.rm(tmp, { recursive: true, force: true });
    });

    test('skopeo: the raw manifest, its digest and type, for each tag', async () => {
      for (const [tag, want] of tags) {
        const raw = mustSucceed(await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/neg/app:${tag}`]), `inspect --raw ${tag}`).stdout;
        assert.equal(sha256(raw), want.digest, tag);
        const info = JSON.parse(mustSucceed(await skopeo(['inspect', '--tls-verify=false', `docker://${registry.host}/neg/app:${tag}`]), `inspect ${tag}`).stdout) as { Digest: string };
        assert.equal(info.Digest, want.digest, tag);
      }
    });

    describe('podman', { skip: podmanSkipReason() ?? false }, () => {
      const podman = podmanWithRegistry(() => registry);
      test('pulls each tag to the same image, the tag\'s digest among its RepoDigests', async () => {
        for (const [tag, want] of tags) {
          const ref = `${registry.host}/neg/app:${tag}`;
          const pull = ok(await podman().podman(['pull', '-q', '--tls-verify=false', ref]), `podman pull ${tag}`);
          assert.equal(`sha256:${pull.stdout.trim()}`, want.imageId, tag);
          const repoDigests = JSON.parse(ok(await podman().podman(['image', 'inspect', '--format', '{{json .RepoDigests}}', ref]), 'inspect').stdout) as string[];
          assert.ok(repoDigests.includes(`${registry.host}/neg/app@${want.digest}`), `${tag}: ${repoDigests.join(' ')}`);
        }
      });
    });

    describe('docker CLI through a private dockerd', { skip: privateDockerdSkipReason() ?? false }, () => {
      let dockerd: PrivateDockerd;
      let peer: DockerPeer;
      before(async () => {
        dockerd = await startPrivateDockerd();
        peer = await dockerPeer(dockerd, tmp);
        await registry.exposeIn(dockerd.netns);
      });
      after(async () => {
        await dockerd?.stop();
      });
      test('pulls each tag, printing the tag\'s digest, to the same image', async () => {
        for (const [tag, want] of tags) {
          const ref = `${registry.host}/neg/app:${tag}`;
          const pull = ok(await peer.run(['pull', ref]), `docker pull ${tag}`);
          assert.ok(pull.stdout.includes(`Digest: ${want.digest}`), `${tag}: ${pull.stdout}`);
          assert.equal(ok(await peer.run(['image', 'inspect', '--format', '{{.Id}}', ref]), 'inspect').stdout.trim(), want.imageId, tag);
        }
      });
    });
  });
});
