import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MediaTypes } from '../../images/media-types';
import { parseDockerRef } from '../../images/reference';
import { digestOf } from '../../util/digest';
import { RegistryError } from './errors';
import { RegistryClient } from './hosts';

/**
 * Registries that answer badly, served by a small http server of the test's own (the one
 * place a fake stands in for a registry: these failures must be injected). Each error must
 * name the registry and what was wrong.
 */
type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
let handler: Handler = (_req, res) => res.end();
let server: http.Server;
let host: string;
const client = new RegistryClient();

before(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/v2/' && !req.url.includes('x-no-ping')) {
      if (pingAnswer !== undefined) return pingAnswer(req, res);
      res.writeHead(200, { 'Docker-Distribution-API-Version': 'registry/2.0' });
      return res.end('{}');
    }
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  client.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
let pingAnswer: Handler | undefined;

const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
const configDesc = { mediaType: MediaTypes.ociConfig, digest: digestOf(config), size: config.length };
const manifestDoc = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: configDesc, layers: [] };

function serveManifest(body: Buffer | string, headers: Record<string, string> = {}): void {
  handler = (req, res) => {
    if (req.url?.includes('/manifests/')) {
      res.writeHead(200, { 'Content-Type': MediaTypes.ociManifest, ...headers });
      return res.end(body);
    }
    if (req.url?.endsWith(`/blobs/${configDesc.digest}`)) return res.end(config);
    res.writeHead(404).end();
  };
}

async function failure(name: string, via = client): Promise<RegistryError> {
  const err = await via.session(parseDockerRef(`${host}/${name}`)).resolve().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
  assert.equal(err.registry, host);
  assert.ok(err.message.includes(host), `the message names the registry: ${err.message}`);
  return err;
}

test('a well-formed answer resolves (the fake itself is sound)', async () => {
  serveManifest(JSON.stringify(manifestDoc));
  const resolved = await client.session(parseDockerRef(`${host}/ok`)).resolve();
  assert.equal(resolved.digest, digestOf(JSON.stringify(manifestDoc)));
});

test('garbage instead of a manifest', async () => {
  serveManifest('<html>not json</html>');
  const err = await failure('garbage');
  assert.match(err.message, new RegExp(`^registry ${host} answered badly: invalid manifest: `));
});

test('a by-digest pull whose content has another digest', async () => {
  serveManifest(JSON.stringify(manifestDoc));
  const wanted = digestOf('something else');
  const err = await failure(`app@${wanted}`);
  assert.match(err.message, new RegExp(`manifest verification failed for digest ${wanted}: the content has digest ${digestOf(JSON.stringify(manifestDoc))}`));
});

test('Docker-Content-Digest that does not match the content', async () => {
  serveManifest(JSON.stringify(manifestDoc), { 'Docker-Content-Digest': digestOf('other') });
  const err = await failure('app:tag');
  assert.match(err.message, /manifest digest mismatch: Docker-Content-Digest says sha256:/);
});

test('the document\'s mediaType disagrees with the Content-Type', async () => {
  serveManifest(JSON.stringify(manifestDoc), { 'Content-Type': MediaTypes.dockerManifest });
  const err = await failure('app');
  assert.ok(err.message.endsWith(`manifest media type mismatch: Content-Type is ${MediaTypes.dockerManifest} but the document says ${MediaTypes.ociManifest}`), err.message);
});

test('a document with both manifests and layers (CVE-2021-41190)', async () => {
  serveManifest(JSON.stringify({ ...manifestDoc, manifests: [] }));
  const err = await failure('app');
  assert.match(err.message, /ambiguous manifest: it has both "manifests" and "layers" \(CVE-2021-41190\)/);
  // Without a mediaType, fields that contradict the Content-Type are refused too.
  serveManifest(JSON.stringify({ schemaVersion: 2, manifests: [] }), { 'Content-Type': MediaTypes.ociManifest });
  assert.match((await failure('app')).message, /invalid manifest: a manifest \(application\/vnd.oci.image.manifest.v1\+json\) with "manifests"/);
});

test('schema 1 and unknown media types are refused by name', async () => {
  serveManifest(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }), { 'Content-Type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' });
  assert.match((await failure('old')).message, /schema 1 is not supported/);
  serveManifest(JSON.stringify({ ...manifestDoc, mediaType: 'application/x-weird' }), { 'Content-Type': 'application/json' });
  assert.match((await failure('weird')).message, /unsupported manifest media type application\/x-weird/);
});

test('a manifest larger than 4 MiB, announced or streamed', async () => {
  const big = Buffer.alloc(5 * 1024 * 1024, 0x20);
  serveManifest(big, { 'Content-Length': String(big.length) });
  assert.match((await failure('big')).message, /is 5242880 bytes, more than the 4194304 allowed/);
  handler = (_req, res) => {
    res.writeHead(200, { 'Content-Type': MediaTypes.ociManifest, 'Transfer-Encoding': 'chunked' });
    res.write(big.subarray(0, 3 * 1024 * 1024));
    res.end(big.subarray(3 * 1024 * 1024));
  };
  assert.match((await failure('big-stream')).message, /larger than 4194304 bytes/);
});

test('a config blob whose bytes do not match its digest', async () => {
  handler = (req, res) => {
    if (req.url?.includes('/manifests/')) {
      res.writeHead(200, { 'Content-Type': MediaTypes.ociManifest });
      return res.end(JSON.stringify(manifestDoc));
    }
    res.end(Buffer.alloc(config.length, 0x7b));
  };
  assert.match((await failure('badconfig')).message, new RegExp(`blob ${configDesc.digest} failed verification`));
});

test('a server error page and a connection cut mid-answer', async () => {
  handler = (_req, res) => {
    res.writeHead(500, { 'Content-Type': 'text/html' });
    res.end('<h1>oops</h1>');
  };
  const err = await failure('down');
  assert.equal(err.status, 500);
  assert.equal(err.message, `unexpected status from GET request to http://${host}/v2/down/manifests/latest: 500 Internal Server Error`);

  handler = (_req, res) => {
    res.writeHead(200, { 'Content-Type': MediaTypes.ociManifest, 'Content-Length': '1000' });
    res.write('{"schemaVersion":');
    setTimeout(() => res.destroy(), 20);
  };
  assert.match((await failure('cut')).message, new RegExp(`reading manifest latest of cut from ${host}: `));
});

test('a distribution error body is shown in docker\'s "code: message" form', async () => {
  handler = (_req, res) => {
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: 'nope' } }] }));
  };
  const err = await failure('app:nope');
  assert.equal(err.kind, 'NotFound');
  assert.equal(err.message, `manifest for ${host}/app:nope not found: manifest unknown: manifest unknown`);
});

test('an endpoint that is no registry, and a 401 without a challenge', async () => {
  // A fresh client each time: a client keeps what /v2/ answered for a while.
  pingAnswer = (_req, res) => {
    res.writeHead(404, { 'Content-Type': 'text/html' });
    res.end('nothing here');
  };
  const fresh = [new RegistryClient(), new RegistryClient()];
  try {
    assert.match((await failure('app', fresh[0])).message, new RegExp(`Get "http://${host}/v2/": 404 Not Found: not a registry API v2 endpoint`));
    pingAnswer = (_req, res) => res.writeHead(401).end();
    assert.match((await failure('app', fresh[1])).message, /401 without a WWW-Authenticate challenge/);
  } finally {
    for (const c of fresh) c.close();
    pingAnswer = undefined;
  }
});

test('a Bearer challenge whose realm is no URL', async () => {
  pingAnswer = (_req, res) => res.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="not a url",service="x"' }).end();
  const fresh = new RegistryClient();
  try {
    assert.match((await failure('app', fresh)).message, /the Bearer realm "not a url" is not a URL/);
  } finally {
    fresh.close();
    pingAnswer = undefined;
  }
});

test('a registry that ignores Range: the stream starts at 0 and says so', async () => {
  const blob = Buffer.from('0123456789');
  handler = (_req, res) => res.end(blob);
  const s = await client.session(parseDockerRef(`${host}/app`)).openBlob({ mediaType: MediaTypes.ociLayerGzip, digest: digestOf(blob), size: blob.length }, { offset: 4 });
  assert.equal(s.offset, 0);
  const chunks: Buffer[] = [];
  for await (const c of s.stream) chunks.push(c as Buffer);
  assert.deepEqual(Buffer.concat(chunks), blob);
  handler = (_req, res) => res.writeHead(206, { 'Content-Range': 'bytes 2-9/10' }).end(blob.subarray(2));
  await assert.rejects(
    client.session(parseDockerRef(`${host}/app`)).openBlob({ mediaType: MediaTypes.ociLayerGzip, digest: digestOf(blob), size: blob.length }, { offset: 4 }),
    /asked for bytes from 4, got Content-Range "bytes 2-9\/10"/,
  );
});

test('a blob redirected to another host: followed, without the registry\'s Authorization', async () => {
  const blob = Buffer.from('redirected bytes');
  const seen: Array<string | undefined> = [];
  const storage = http.createServer((req, res) => {
    seen.push(req.headers.authorization);
    res.end(blob);
  });
  await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve));
  const storagePort = (storage.address() as AddressInfo).port;
  let registryAuth: string | undefined;
  pingAnswer = (_req, res) => res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${host}/token",service="fake"` }).end();
  handler = (req, res) => {
    if (req.url?.startsWith('/token')) return res.end(JSON.stringify({ token: 'tok' }));
    registryAuth = req.headers.authorization;
    res.writeHead(307, { Location: `http://127.0.0.1:${storagePort}/bucket/blob?sig=1` }).end();
  };
  const fresh = new RegistryClient();
  try {
    const s = await fresh.session(parseDockerRef(`${host}/app`)).openBlob({ mediaType: MediaTypes.ociLayerGzip, digest: digestOf(blob), size: blob.length });
    const chunks: Buffer[] = [];
    for await (const c of s.stream) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), blob);
    assert.equal(registryAuth, 'Bearer tok');
    assert.deepEqual(seen, [undefined]);
  } finally {
    pingAnswer = undefined;
    fresh.close();
    storage.closeAllConnections();
    await new Promise<void>((resolve) => storage.close(() => resolve()));
  }
});
