import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { hasSendFile } from '../../native';
import { digestOf, type Digest } from '../../util/digest';
import { RegistryError } from '../errcodes';
import type { AccessRequest, RegistryAuth, RegistryEvent } from './hooks';
import { RegistryServer } from './server';
import { SEND_CHUNK_BYTES } from './routes/send-blob';
import { silentLogger } from '../../util/logger';
import { startTestRegistry, type TestRegistry, type TestResponse } from '../../../test/helpers/registry-server';

/** The distribution-spec routes over real HTTP against a filesystem-backed registry. */

let reg: TestRegistry;
const events: RegistryEvent[] = [];

before(async () => {
  reg = await startTestRegistry({ events: { emit: (e) => events.push(e) } });
});
after(async () => {
  await reg.stop();
});

function errorCode(res: TestResponse): string {
  return res.json().errors[0].code;
}

async function pushBlob(repo: string, data: Buffer): Promise<Digest> {
  const digest = digestOf(data);
  const res = await reg.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(res.status, 201, res.body.toString());
  return digest;
}

function imageManifest(config: { digest: Digest; size: number }, layers: { digest: Digest; size: number }[], extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
    ...extra,
  });
}

/** Pushes a config + one layer + manifest under `repo:tag`; returns the manifest's digest and bytes. */
async function pushImage(repo: string, tag: string, extra: Record<string, unknown> = {}): Promise<{ digest: Digest; body: string; layer: Digest }> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, n: randomBytes(4).toString('hex') }));
  const layer = randomBytes(1000);
  const configDigest = await pushBlob(repo, config);
  const layerDigest = await pushBlob(repo, layer);
  const body = imageManifest({ digest: configDigest, size: config.length }, [{ digest: layerDigest, size: layer.length }], extra);
  const res = await reg.request('PUT', `/v2/${repo}/manifests/${tag}`, { body, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(res.status, 201, res.body.toString());
  return { digest: digestOf(body), body, layer: layerDigest };
}

test('the base endpoint answers 200 with the API version header', async () => {
  const res = await reg.request('GET', '/v2/');
  assert.equal(res.status, 200);
  assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
  assert.deepEqual(res.json(), {});
  assert.equal((await reg.request('POST', '/v2/')).status, 405);
});

test('monolithic upload, then GET, HEAD, Range and DELETE of the blob', async () => {
  const data = randomBytes(5000);
  const digest = await pushBlob('mono/app', data);
  const get = await reg.request('GET', `/v2/mono/app/blobs/${digest}`);
  assert.equal(get.status, 200);
  assert.deepEqual(get.body, data);
  assert.equal(get.headers['docker-content-digest'], digest);
  const head = await reg.request('HEAD', `/v2/mono/app/blobs/${digest}`);
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '5000');
  assert.equal(head.body.length, 0);
  const range = await reg.request('GET', `/v2/mono/app/blobs/${digest}`, { headers: { Range: 'bytes=100-199' } });
  assert.equal(range.status, 206);
  assert.equal(range.headers['content-range'], 'bytes 100-199/5000');
  assert.deepEqual(range.body, data.subarray(100, 200));
  const open = await reg.request('GET', `/v2/mono/app/blobs/${digest}`, { headers: { Range: 'bytes=4990-' } });
  assert.deepEqual(open.body, data.subarray(4990));
  const suffix = await reg.request('GET', `/v2/mono/app/blobs/${digest}`, { headers: { Range: 'bytes=-7' } });
  assert.deepEqual(suffix.body, data.subarray(4993));
  const past = await reg.request('GET', `/v2/mono/app/blobs/${digest}`, { headers: { Range: 'bytes=5000-' } });
  assert.equal(past.status, 416);
  assert.equal(past.headers['content-range'], 'bytes */5000');
  // Another repository does not hold it: blobs are per repository.
  const elsewhere = await reg.request('GET', `/v2/other/app/blobs/${digest}`);
  assert.equal(elsewhere.status, 404);
  assert.equal(errorCode(elsewhere), 'BLOB_UNKNOWN');
  const del = await reg.request('DELETE', `/v2/mono/app/blobs/${digest}`);
  assert.equal(del.status, 202);
  assert.equal((await reg.request('HEAD', `/v2/mono/app/blobs/${digest}`)).status, 404);
  assert.equal(events.some((e) => e.action === 'delete' && e.target === 'blob' && e.digest === digest), true);
});

test('chunked upload with Content-Range, status, an out-of-order chunk, and the final PUT', async () => {
  const data = randomBytes(30_000);
  const digest = digestOf(data);
  const start = await reg.request('POST', '/v2/chunked/app/blobs/uploads/');
  assert.equal(start.status, 202);
  assert.equal(start.headers.range, '0-0');
  const location = start.headers.location!;
  assert.match(location, /^\/v2\/chunked\/app\/blobs\/uploads\/[0-9a-f-]{36}$/);
  assert.equal(start.headers['docker-upload-uuid'], location.split('/').pop());
  const first = await reg.request('PATCH', location, { body: data.subarray(0, 10_000), headers: { 'Content-Range': '0-9999', 'Content-Type': 'application/octet-stream' } });
  assert.equal(first.status, 202);
  assert.equal(first.headers.range, '0-9999');
  const status = await reg.request('GET', location);
  assert.equal(status.status, 204);
  assert.equal(status.headers.range, '0-9999');
  const gap = await reg.request('PATCH', location, { body: data.subarray(20_000), headers: { 'Content-Range': '20000-29999' } });
  assert.equal(gap.status, 416);
  assert.equal(gap.headers.range, '0-9999', 'a refused chunk names where the upload stands');
  // A streamed chunk (no Content-Range) appends.
  const second = await reg.request('PATCH', location, { body: data.subarray(10_000, 20_000) });
  assert.equal(second.headers.range, '0-19999');
  const done = await reg.request('PUT', `${location}?digest=${digest}`, { body: data.subarray(20_000), headers: { 'Content-Range': '20000-29999' } });
  assert.equal(done.status, 201, done.body.toString());
  assert.equal(done.headers.location, `/v2/chunked/app/blobs/${digest}`);
  assert.equal(done.headers['docker-content-digest'], digest);
  assert.deepEqual((await reg.request('GET', `/v2/chunked/app/blobs/${digest}`)).body, data);
  assert.equal(errorCode(await reg.request('GET', location)), 'BLOB_UPLOAD_UNKNOWN', 'a finished upload is gone');
});

test('a blob whose content mismatches its digest: 400 DIGEST_INVALID and nothing stored', async () => {
  const data = randomBytes(2000);
  const wrong = digestOf(Buffer.from('something else'));
  const mono = await reg.request('POST', `/v2/bad/app/blobs/uploads/?digest=${wrong}`, { body: data });
  assert.equal(mono.status, 400);
  assert.equal(errorCode(mono), 'DIGEST_INVALID');
  const start = await reg.request('POST', '/v2/bad/app/blobs/uploads/');
  await reg.request('PATCH', start.headers.location!, { body: data });
  const put = await reg.request('PUT', `${start.headers.location}?digest=${wrong}`);
  assert.equal(put.status, 400);
  assert.equal(errorCode(put), 'DIGEST_INVALID');
  assert.equal(await reg.driver.statBlob(wrong), undefined);
  assert.equal(await reg.driver.statBlob(digestOf(data)), undefined);
  assert.deepEqual(await reg.driver.listUploads(), [], 'no upload data left behind');
  assert.equal(errorCode(await reg.request('GET', start.headers.location!)), 'BLOB_UPLOAD_UNKNOWN');
  const malformed = await reg.request('POST', '/v2/bad/app/blobs/uploads/?digest=sha256:1234', { body: data });
  assert.equal(errorCode(malformed), 'DIGEST_INVALID');
  const gone = await reg.request('PUT', `/v2/bad/app/blobs/uploads/${start.headers['docker-upload-uuid']}`);
  assert.equal(gone.status, 404, "the refused upload is gone");
});

test('cancel removes an upload; unknown upload ids are BLOB_UPLOAD_UNKNOWN', async () => {
  const start = await reg.request('POST', '/v2/cancel/app/blobs/uploads/');
  await reg.request('PATCH', start.headers.location!, { body: randomBytes(100) });
  const cancel = await reg.request('DELETE', start.headers.location!);
  assert.equal(cancel.status, 204);
  assert.equal((await reg.request('GET', start.headers.location!)).status, 404);
  assert.equal(errorCode(await reg.request('PATCH', '/v2/cancel/app/blobs/uploads/not-a-uuid', { body: 'x' })), 'BLOB_UPLOAD_UNKNOWN');
  // An upload belongs to the repository it was started in.
  const other = await reg.request('POST', '/v2/cancel/app/blobs/uploads/');
  const foreign = other.headers.location!.replace('/cancel/app/', '/cancel/other/');
  assert.equal(errorCode(await reg.request('GET', foreign)), 'BLOB_UPLOAD_UNKNOWN');
  assert.equal((await reg.request('DELETE', other.headers.location!)).status, 204);
});

test('an interrupted chunk keeps the bytes received; the client resumes from the status offset', async () => {
  const data = randomBytes(64 * 1024);
  const digest = digestOf(data);
  const start = await reg.request('POST', '/v2/resume/app/blobs/uploads/');
  const location = start.headers.location!;
  const address = reg.server.server.address() as { port: number };
  // Send half of the body, then drop the connection.
  await new Promise<void>((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: address.port, method: 'PATCH', path: location, headers: { 'Content-Length': String(data.length) } });
    req.on('error', () => resolve());
    req.write(data.subarray(0, 32 * 1024), () => setTimeout(() => { req.destroy(); resolve(); }, 200));
  });
  let offset = 0;
  for (let i = 0; i < 50 && offset === 0; i++) {
    const status = await reg.request('GET', location);
    offset = Number(status.headers.range!.split('-')[1]) + 1;
    if (offset === 1) offset = 0;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(offset, 32 * 1024);
  const rest = await reg.request('PATCH', location, { body: data.subarray(offset), headers: { 'Content-Range': `${offset}-${data.length - 1}` } });
  assert.equal(rest.status, 202);
  assert.equal((await reg.request('PUT', `${location}?digest=${digest}`)).status, 201);
  assert.deepEqual((await reg.request('GET', `/v2/resume/app/blobs/${digest}`)).body, data);
});

test('concurrent pushes of the same blob all succeed and store it once', async () => {
  const data = randomBytes(256 * 1024);
  const digest = digestOf(data);
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => reg.request('POST', `/v2/same/r${i}/blobs/uploads/?digest=${digest}`, { body: data })));
  assert.deepEqual(results.map((r) => r.status), Array(8).fill(201));
  const stat = await reg.driver.statBlob(digest);
  assert.equal(stat?.size, data.length);
  for (let i = 0; i < 8; i++) assert.deepEqual((await reg.request('GET', `/v2/same/r${i}/blobs/${digest}`)).body, data);
  assert.deepEqual(await reg.driver.listUploads(), []);
});

/** What every OCI client sends (an OCI manifest or index is MANIFEST_UNKNOWN to a client that does not accept it). */
const ACCEPT_OCI = { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' };

test('manifests by tag and digest: PUT, GET, HEAD, DELETE', async () => {
  const { digest, body } = await pushImage('man/app', 'v1');
  const byTag = await reg.request('GET', '/v2/man/app/manifests/v1', { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(byTag.status, 200);
  assert.equal(byTag.body.toString(), body);
  assert.equal(byTag.headers['content-type'], 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(byTag.headers['docker-content-digest'], digest);
  const head = await reg.request('HEAD', `/v2/man/app/manifests/${digest}`, { headers: ACCEPT_OCI });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(Buffer.byteLength(body)));
  assert.equal(head.headers['docker-content-digest'], digest);
  const pushEvent = events.find((e) => e.action === 'push' && e.digest === digest);
  assert.equal(pushEvent?.repository, 'man/app');
  assert.equal(pushEvent?.tag, 'v1');
  assert.equal(pushEvent?.size, Buffer.byteLength(body));
  // A second tag, then DELETE by tag removes only that tag.
  assert.equal((await reg.request('PUT', '/v2/man/app/manifests/v2', { body, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } })).status, 201);
  assert.equal((await reg.request('DELETE', '/v2/man/app/manifests/v2')).status, 202);
  assert.equal(errorCode(await reg.request('GET', '/v2/man/app/manifests/v2')), 'MANIFEST_UNKNOWN');
  assert.equal((await reg.request('GET', '/v2/man/app/manifests/v1', { headers: ACCEPT_OCI })).status, 200);
  // DELETE by digest removes the manifest and the tags pointing at it.
  assert.equal((await reg.request('DELETE', `/v2/man/app/manifests/${digest}`)).status, 202);
  assert.equal((await reg.request('GET', '/v2/man/app/manifests/v1')).status, 404);
  assert.equal((await reg.request('HEAD', `/v2/man/app/manifests/${digest}`)).status, 404);
  assert.equal((await reg.request('DELETE', `/v2/man/app/manifests/${digest}`)).status, 404);
  assert.ok(events.some((e) => e.action === 'delete' && e.target === 'manifest' && e.digest === digest));
});

test('bad manifests: missing blobs, digest mismatch, type mismatch, ambiguous documents', async () => {
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const configDigest = await pushBlob('badman/app', config);
  const missing = digestOf(Buffer.from('never pushed'));
  const ct = { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' };
  const body = imageManifest({ digest: configDigest, size: config.length }, [{ digest: missing, size: 12 }]);
  const unknown = await reg.request('PUT', '/v2/badman/app/manifests/latest', { body, headers: ct });
  assert.equal(unknown.status, 400);
  assert.equal(errorCode(unknown), 'MANIFEST_BLOB_UNKNOWN');
  assert.equal(unknown.json().errors[0].detail.digest, missing);
  const good = imageManifest({ digest: configDigest, size: config.length }, []);
  const wrongDigest = await reg.request('PUT', `/v2/badman/app/manifests/${missing}`, { body: good, headers: ct });
  assert.equal(errorCode(wrongDigest), 'DIGEST_INVALID');
  const typeMismatch = await reg.request('PUT', '/v2/badman/app/manifests/x', { body: good, headers: { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' } });
  assert.equal(errorCode(typeMismatch), 'MANIFEST_INVALID');
  const both = JSON.stringify({ ...JSON.parse(good), manifests: [] });
  assert.equal(errorCode(await reg.request('PUT', '/v2/badman/app/manifests/x', { body: both, headers: ct })), 'MANIFEST_INVALID');
  assert.equal(errorCode(await reg.request('PUT', '/v2/badman/app/manifests/x', { body: '{nope', headers: ct })), 'MANIFEST_INVALID');
  const index = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: missing, size: 10 }] });
  assert.equal(errorCode(await reg.request('PUT', '/v2/badman/app/manifests/idx', { body: index, headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' } })), 'MANIFEST_BLOB_UNKNOWN');
  assert.equal(errorCode(await reg.request('PUT', '/v2/badman/app/manifests/bad..tag!', { body: good, headers: ct })), 'TAG_INVALID');
  const huge = await reg.request('PUT', '/v2/badman/app/manifests/big', { body: Buffer.alloc(4 * 1024 * 1024 + 1, 32), headers: ct });
  assert.equal(huge.status, 413);
  assert.equal(errorCode(await reg.request('GET', '/v2/badman/app/manifests/latest')), 'MANIFEST_UNKNOWN');
  // Nothing of the refused documents is stored.
  for (const doc of [body, both]) assert.equal(await reg.driver.statBlob(digestOf(doc)), undefined);
});

test('an index whose children are present is accepted', async () => {
  const a = await pushImage('idx/app', 'amd64');
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: a.digest, size: Buffer.byteLength(a.body), platform: { architecture: 'amd64', os: 'linux' } }],
  });
  const res = await reg.request('PUT', '/v2/idx/app/manifests/latest', { body: index, headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' } });
  assert.equal(res.status, 201);
  assert.equal((await reg.request('GET', '/v2/idx/app/manifests/latest', { headers: ACCEPT_OCI })).headers['content-type'], 'application/vnd.oci.image.index.v1+json');
});

test('malformed names and traversal attempts are NAME_INVALID; unknown methods UNSUPPORTED', async () => {
  for (const p of ['/v2/UPPER/manifests/latest', '/v2/../../etc/manifests/latest', '/v2/a/%2e%2e/b/manifests/latest', '/v2/a//b/blobs/uploads/', '/v2/-a/tags/list', `/v2/${'a'.repeat(256)}/tags/list`]) {
    const res = await reg.request(p.endsWith('uploads/') ? 'POST' : 'GET', p);
    assert.equal(res.status, 400, p);
    assert.equal(errorCode(res), 'NAME_INVALID', p);
  }
  const res = await reg.request('POST', '/v2/x/manifests/latest');
  assert.equal(res.status, 405);
  assert.equal(errorCode(res), 'UNSUPPORTED');
  assert.equal((await reg.request('GET', '/nothing')).status, 404);
});

test('tags list with pagination (n, last, Link) and NAME_UNKNOWN', async () => {
  const { body } = await pushImage('tags/app', 'c');
  for (const tag of ['a', 'b', 'd', 'e']) {
    await reg.request('PUT', `/v2/tags/app/manifests/${tag}`, { body, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
  }
  assert.deepEqual((await reg.request('GET', '/v2/tags/app/tags/list')).json(), { name: 'tags/app', tags: ['a', 'b', 'c', 'd', 'e'] });
  const page1 = await reg.request('GET', '/v2/tags/app/tags/list?n=2');
  assert.deepEqual(page1.json().tags, ['a', 'b']);
  assert.equal(page1.headers.link, '</v2/tags/app/tags/list?n=2&last=b>; rel="next"');
  const page2 = await reg.request('GET', '/v2/tags/app/tags/list?n=2&last=b');
  assert.deepEqual(page2.json().tags, ['c', 'd']);
  const page3 = await reg.request('GET', '/v2/tags/app/tags/list?n=2&last=d');
  assert.deepEqual(page3.json().tags, ['e']);
  assert.equal(page3.headers.link, undefined);
  assert.deepEqual((await reg.request('GET', '/v2/tags/app/tags/list?n=0')).json().tags, []);
  assert.equal(errorCode(await reg.request('GET', '/v2/tags/app/tags/list?n=-1')), 'PAGINATION_NUMBER_INVALID');
  const unknown = await reg.request('GET', '/v2/tags/nothing/tags/list');
  assert.equal(unknown.status, 404);
  assert.equal(errorCode(unknown), 'NAME_UNKNOWN');
});

test('the catalog lists repositories with manifests, nested names included, paginated', async () => {
  await pushImage('cat/a', 'x');
  await pushImage('cat/a/b', 'x');
  await pushImage('cat/c', 'x');
  const all = (await reg.request('GET', '/v2/_catalog')).json().repositories as string[];
  const ours = all.filter((r) => r.startsWith('cat/'));
  assert.deepEqual(ours, ['cat/a', 'cat/a/b', 'cat/c']);
  assert.deepEqual([...all].sort(), all, 'sorted');
  const page = await reg.request('GET', '/v2/_catalog?n=1&last=cat/a');
  assert.deepEqual(page.json().repositories, ['cat/a/b']);
  assert.match(String(page.headers.link), /^<\/v2\/_catalog\?n=1&last=cat%2Fa%2Fb>; rel="next"$/);
});

test('cross-repository mount links a blob; without the source blob or pull on it, an upload starts', async () => {
  const data = randomBytes(3000);
  const digest = await pushBlob('mount/src', data);
  const mounted = await reg.request('POST', `/v2/mount/dst/blobs/uploads/?mount=${digest}&from=mount/src`);
  assert.equal(mounted.status, 201);
  assert.equal(mounted.headers.location, `/v2/mount/dst/blobs/${digest}`);
  assert.deepEqual((await reg.request('GET', `/v2/mount/dst/blobs/${digest}`)).body, data);
  const fallback = await reg.request('POST', `/v2/mount/dst2/blobs/uploads/?mount=${digest}&from=mount/nothing`);
  assert.equal(fallback.status, 202);
  assert.match(fallback.headers.location!, /\/blobs\/uploads\//);
});

test('referrers: a manifest with a subject is listed, filtered by artifactType, and removed with it', async () => {
  const subject = await pushImage('ref/app', 'v1');
  const subjectDesc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: subject.digest, size: Buffer.byteLength(subject.body) };
  const emptyConfig = Buffer.from('{}');
  const configDigest = await pushBlob('ref/app', emptyConfig);
  const sig = imageManifest({ digest: configDigest, size: 2 }, [], { artifactType: 'application/vnd.example.signature', subject: subjectDesc, annotations: { 'org.example': 'yes' } });
  const put = await reg.request('PUT', `/v2/ref/app/manifests/${digestOf(sig)}`, { body: sig, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(put.status, 201);
  assert.equal(put.headers['oci-subject'], subject.digest);
  const sbom = imageManifest({ digest: configDigest, size: 2 }, [], { artifactType: 'application/vnd.example.sbom', subject: subjectDesc });
  await reg.request('PUT', `/v2/ref/app/manifests/${digestOf(sbom)}`, { body: sbom, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
  const all = await reg.request('GET', `/v2/ref/app/referrers/${subject.digest}`);
  assert.equal(all.status, 200);
  assert.equal(all.headers['content-type'], 'application/vnd.oci.image.index.v1+json');
  const index = all.json();
  assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.deepEqual(index.manifests.map((m: { artifactType: string }) => m.artifactType).sort(), ['application/vnd.example.sbom', 'application/vnd.example.signature']);
  const sigDesc = index.manifests.find((m: { digest: string }) => m.digest === digestOf(sig));
  assert.deepEqual(sigDesc, { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digestOf(sig), size: Buffer.byteLength(sig), artifactType: 'application/vnd.example.signature', annotations: { 'org.example': 'yes' } });
  const filtered = await reg.request('GET', `/v2/ref/app/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`);
  assert.equal(filtered.headers['oci-filters-applied'], 'artifactType');
  assert.deepEqual(filtered.json().manifests.map((m: { digest: string }) => m.digest), [digestOf(sbom)]);
  await reg.request('DELETE', `/v2/ref/app/manifests/${digestOf(sig)}`);
  assert.deepEqual((await reg.request('GET', `/v2/ref/app/referrers/${subject.digest}`)).json().manifests.map((m: { digest: string }) => m.digest), [digestOf(sbom)]);
  const none = await reg.request('GET', `/v2/ref/app/referrers/${digestOf(Buffer.from('nothing refers'))}`);
  assert.deepEqual(none.json().manifests, []);
  assert.equal(errorCode(await reg.request('GET', '/v2/ref/app/referrers/sha256:zz')), 'DIGEST_INVALID');
});

test('the auth hook sees each route\'s scopes and its errors reach the client with their headers', async () => {
  const seen: AccessRequest['needed'][] = [];
  const auth: RegistryAuth = {
    async authorize({ req, needed }) {
      seen.push(needed);
      const user = req.headers.authorization;
      if (!user) throw new RegistryError('UNAUTHORIZED', undefined, { headers: { 'WWW-Authenticate': 'Basic realm="test"' } });
      if (needed.some((n) => n.type === 'repository' && n.actions.includes('delete'))) throw new RegistryError('DENIED');
      return { actor: user };
    },
    async permits(_ctx, scope) {
      return scope.name !== 'private/src';
    },
  };
  const guarded = await startTestRegistry({ auth, events: { emit: (e) => events.push(e) } });
  try {
    const anon = await guarded.request('GET', '/v2/');
    assert.equal(anon.status, 401);
    assert.equal(anon.headers['www-authenticate'], 'Basic realm="test"');
    assert.equal(errorCode(anon), 'UNAUTHORIZED');
    const h = { Authorization: 'alice' };
    assert.equal((await guarded.request('GET', '/v2/', { headers: h })).status, 200);
    const data = randomBytes(10);
    const digest = digestOf(data);
    assert.equal((await guarded.request('POST', `/v2/team/app/blobs/uploads/?digest=${digest}`, { body: data, headers: h })).status, 201);
    assert.equal((await guarded.request('GET', `/v2/team/app/blobs/${digest}`, { headers: h })).status, 200);
    const denied = await guarded.request('DELETE', `/v2/team/app/blobs/${digest}`, { headers: h });
    assert.equal(denied.status, 403);
    assert.equal(errorCode(denied), 'DENIED');
    await guarded.request('GET', '/v2/_catalog', { headers: h });
    assert.deepEqual(seen.slice(1), [
      [],
      [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }],
      [{ type: 'repository', name: 'team/app', actions: ['pull'] }],
      [{ type: 'repository', name: 'team/app', actions: ['delete'] }],
      [{ type: 'registry', name: 'catalog', actions: ['*'] }],
    ]);
    // A mount whose source the client may not pull falls back to an upload.
    assert.equal((await guarded.request('POST', `/v2/private/src/blobs/uploads/?digest=${digest}`, { body: data, headers: h })).status, 201);
    const mount = await guarded.request('POST', `/v2/team/other/blobs/uploads/?mount=${digest}&from=private/src`, { headers: h });
    assert.equal(mount.status, 202);
  } finally {
    await guarded.stop();
  }
});

test('listening on a port in use fails with a message naming the address', async () => {
  const port = (reg.server.server.address() as { port: number }).port;
  const second = new RegistryServer({ driver: reg.driver, logger: silentLogger });
  await assert.rejects(second.listen('127.0.0.1', port), new RegExp(`registry cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
});

test('50 concurrent pulls (manifest, then every blob) all get the right bytes', async () => {
  const { digest, body } = await pushImage('busy/app', 'v1');
  const manifest = JSON.parse(body) as { config: { digest: string }; layers: { digest: string }[] };
  const blobs = [manifest.config.digest, ...manifest.layers.map((l) => l.digest)];
  const expected = await Promise.all(blobs.map(async (b) => (await reg.request('GET', `/v2/busy/app/blobs/${b}`)).body));
  const pulls = Array.from({ length: 50 }, async () => {
    const m = await reg.request('GET', '/v2/busy/app/manifests/v1', { headers: ACCEPT_OCI });
    assert.equal(m.status, 200);
    assert.equal(digestOf(m.body), digest);
    const got = await Promise.all(blobs.map((b) => reg.request('GET', `/v2/busy/app/blobs/${b}`)));
    got.forEach((res, i) => {
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, expected[i]);
    });
  });
  await Promise.all(pulls);
});

test('POST then a single PUT carrying the whole blob; a chunked-encoded streamed PATCH', async () => {
  const data = randomBytes(20_000);
  const digest = digestOf(data);
  const start = await reg.request('POST', '/v2/putonly/app/blobs/uploads/');
  const put = await reg.request('PUT', `${start.headers.location}?digest=${digest}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(put.status, 201);
  assert.deepEqual((await reg.request('GET', `/v2/putonly/app/blobs/${digest}`)).body, data);

  const other = randomBytes(70_000);
  const second = await reg.request('POST', '/v2/putonly/app/blobs/uploads/');
  const patch = await reg.request('PATCH', second.headers.location!, { body: other, headers: { 'Transfer-Encoding': 'chunked' } });
  assert.equal(patch.status, 202);
  assert.equal(patch.headers.range, `0-${other.length - 1}`);
  assert.equal((await reg.request('PUT', `${second.headers.location}?digest=${digestOf(other)}`)).status, 201);
  // A PUT without a digest is refused and leaves the upload for a retry.
  const third = await reg.request('POST', '/v2/putonly/app/blobs/uploads/');
  const noDigest = await reg.request('PUT', third.headers.location!);
  assert.equal(noDigest.status, 400);
  assert.equal(errorCode(noDigest), 'DIGEST_INVALID');
  assert.equal((await reg.request('GET', third.headers.location!)).status, 204);
  assert.equal((await reg.request('DELETE', third.headers.location!)).status, 204);
});

test('a blob of several send buffers arrives whole and by ranges across buffer boundaries; a client leaving mid-blob does not hurt the server', async () => {
  const data = randomBytes(2 * SEND_CHUNK_BYTES + 12_345);
  const digest = await pushBlob('big/blob', data);
  const whole = await reg.request('GET', `/v2/big/blob/blobs/${digest}`);
  assert.equal(whole.status, 200);
  assert.equal(whole.headers['content-length'], String(data.length));
  assert.ok(whole.body.equals(data), 'whole blob');
  for (const [start, end] of [[SEND_CHUNK_BYTES - 10, SEND_CHUNK_BYTES + 10], [1, 2 * SEND_CHUNK_BYTES + 1], [2 * SEND_CHUNK_BYTES, data.length - 1]] as const) {
    const part = await reg.request('GET', `/v2/big/blob/blobs/${digest}`, { headers: { Range: `bytes=${start}-${end}` } });
    assert.equal(part.status, 206);
    assert.ok(part.body.equals(data.subarray(start, end + 1)), `range ${start}-${end}`);
  }
  const address = reg.server.server.address() as { port: number };
  await new Promise<void>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: address.port, path: `/v2/big/blob/blobs/${digest}` }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (err) => (req.destroyed ? resolve() : reject(err)));
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.ok((await reg.request('GET', `/v2/big/blob/blobs/${digest}`)).body.equals(data), 'served again after a client left mid-blob');
});

test('a blob sent to a client that stopped reading holds one thread, which ends when the server closes', async () => {
  // Larger than the socket buffers on both sides, so the send waits on the client.
  const data = randomBytes(24 * 1024 * 1024);
  const digest = await pushBlob('stalled/blob', data);
  const server = new RegistryServer({ driver: reg.driver, logger: silentLogger });
  const { port } = await server.listen('127.0.0.1', 0);
  const threads = () => readdirSync('/proc/self/task').length;
  const before = threads();
  let response: http.IncomingMessage | undefined;
  await new Promise<void>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: `/v2/stalled/blob/blobs/${digest}` }, (res) => {
      response = res;
      res.pause();
      resolve();
    }).on('error', (err) => (response ? undefined : reject(err)));
  });
  assert.equal(response!.statusCode, 200);
  await new Promise((r) => setTimeout(r, 200));
  if (hasSendFile()) assert.equal(threads(), before + 1, 'the send waits on its own thread');
  const started = Date.now();
  await server.close();
  assert.ok(Date.now() - started < 5000, 'closed promptly');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(threads(), before, 'no send left running');
  response!.destroy();
});
