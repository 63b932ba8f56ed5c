import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import type { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import type { IncomingMessage } from 'node:http';
import { EngineClient, parseJsonStream, resolveHost } from '../../../src/client';
import type { JsonStreamMessage } from '../../../src/client/types';
import { encodeRegistryAuth } from '../../../src/registry/client/registry-auth-header';
import { digestOf } from '../../../src/util/digest';
import { berth, docker, DOCKER_CLIENTS, runCommand } from '../../helpers/cli';
import { berthRegistrySkipReason, distributionRegistrySkipReason, startBerthRegistry, startDistributionRegistry, type TestRegistry } from '../../helpers/registry';
import { CLI_MAIN, needsRoot, startTestDaemon, type TestDaemon } from '../../helpers/test-daemon';
import { PtySession, SCRIPT } from '../../helpers/pty';

/**
 * `docker push` through berth's API to Debian's docker-registry (distribution 2.8) on loopback,
 * checked from the outside with skopeo: docker's progress messages, layers compressed on the
 * way and kept, "Layer already exists" the second time, cross-repository mounts, push -a,
 * credentials in X-Registry-Auth, and the errors.
 */
const SKOPEO = '/usr/bin/skopeo';
const skip = needsRoot() || (distributionRegistrySkipReason() ?? false) || (!(require('node:fs') as typeof import('node:fs')).existsSync(SKOPEO) ? 'skopeo is not installed' : false);

async function messages(res: IncomingMessage): Promise<JsonStreamMessage[]> {
  const out: JsonStreamMessage[] = [];
  for await (const m of parseJsonStream<JsonStreamMessage>(res)) out.push(m);
  return out;
}

async function skopeo(args: string[]): Promise<string> {
  const r = await runCommand(SKOPEO, args, { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `skopeo ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Layer statuses by id, in the order they came. */
function statusesById(list: JsonStreamMessage[]): Map<string, string[]> {
  const by = new Map<string, string[]>();
  for (const m of list) if (m.id && m.status) by.set(m.id, [...(by.get(m.id) ?? []), m.status]);
  return by;
}

describe('push to docker-registry through the API', { skip }, () => {
  let daemon: TestDaemon;
  let registry: TestRegistry;
  let client: EngineClient;
  let tmp: string;
  let diffIds: string[];
  let firstDigest: string;

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-push-'));
    daemon = await startTestDaemon({ hostNetwork: true });
    registry = await startDistributionRegistry();
    client = new EngineClient({ host: resolveHost({ flag: daemon.host }) });
    await messages(await client.imageBootstrap('busybox'));
    // A second layer on busybox: a container's change, committed.
    const run = await berth(daemon.host, ['run', '--name', 'layer2', 'busybox', 'sh', '-c', 'echo hello > /hello && mkdir /data']);
    assert.equal(run.code, 0, run.stderr);
    const commit = await berth(daemon.host, ['commit', 'layer2', `${registry.host}/team/app:v1`]);
    assert.equal(commit.code, 0, commit.stderr);
    diffIds = (await client.imageInspect(`${registry.host}/team/app:v1`)).RootFS.Layers as string[];
    assert.equal(diffIds.length, 2);
  });
  after(async () => {
    await daemon?.stop();
    await registry?.stop();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  test('a local image (uncompressed layers) is pushed with docker\'s messages; skopeo reads the same image back', async () => {
    const list = await messages(await client.imagePush(`${registry.host}/team/app`, { tag: 'v1' }));
    assert.deepEqual(list[0], { status: `The push refers to repository [${registry.host}/team/app]` });
    const ids = [...diffIds].reverse().map((d) => d.slice(7, 19));
    assert.deepEqual(
      list.filter((m) => m.status === 'Preparing').map((m) => m.id),
      ids,
      'top layer first',
    );
    for (const m of list.filter((m) => m.status === 'Preparing')) assert.deepEqual(m.progressDetail, {});
    const by = statusesById(list);
    for (const id of ids) {
      const statuses = by.get(id) ?? [];
      assert.equal(statuses[0], 'Preparing');
      assert.equal(statuses.at(-1), 'Pushed', `${id}: ${statuses.join(', ')}`);
      assert.ok(statuses.includes('Pushing'), `${id} shows its progress`);
    }
    const pushing = list.filter((m) => m.status === 'Pushing');
    for (const m of pushing) {
      assert.ok(m.progressDetail?.total && m.progressDetail.current !== undefined && m.progressDetail.current <= m.progressDetail.total);
      assert.match(m.progress ?? '', /^\[=*>? *\] +[\d.]+k?M?B\/[\d.]+k?M?B$/);
    }
    const last = list.at(-1)!;
    const digestLine = list.at(-2)!;
    assert.ok(last.aux, 'the last message is the aux');
    const aux = last.aux as { Tag: string; Digest: string; Size: number };
    assert.equal(aux.Tag, 'v1');
    assert.equal(digestLine.status, `v1: digest: ${aux.Digest} size: ${aux.Size}`);
    assert.equal(list.filter((m) => m.error || m.errorDetail).length, 0);
    firstDigest = aux.Digest;

    // skopeo sees a schema 2 manifest of that digest, over gzip layers of the image's diff IDs.
    const raw = await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/team/app:v1`]);
    assert.equal(digestOf(raw), aux.Digest);
    assert.equal(Buffer.byteLength(raw), aux.Size);
    const manifest = JSON.parse(raw) as { mediaType: string; layers: Array<{ mediaType: string; digest: string }> };
    assert.equal(manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.deepEqual(manifest.layers.map((l) => l.mediaType), diffIds.map(() => 'application/vnd.docker.image.rootfs.diff.tar.gzip'));
    const config = JSON.parse(await skopeo(['inspect', '--tls-verify=false', '--config', `docker://${registry.host}/team/app:v1`])) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(config.rootfs.diff_ids, diffIds);
    const dir = path.join(tmp, 'copy');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${registry.host}/team/app:v1`, `dir:${dir}`]);
    for (const [i, layer] of manifest.layers.entries()) {
      const blob = await fs.readFile(path.join(dir, layer.digest.slice(7)));
      assert.equal(digestOf(blob), layer.digest);
      assert.equal(digestOf(gunzipSync(blob)), diffIds[i], `layer ${i} unpacks to its diff ID`);
    }
    // As dockerd: the image records the repository's digest.
    const inspect = await client.imageInspect(`${registry.host}/team/app:v1`);
    assert.ok((inspect.RepoDigests ?? []).includes(`${registry.host}/team/app@${aux.Digest}`), (inspect.RepoDigests ?? []).join(', '));
  });

  test('a second push sends nothing: every layer already exists, the manifest is the same', async () => {
    const list = await messages(await client.imagePush(`${registry.host}/team/app`, { tag: 'v1' }));
    const by = statusesById(list);
    for (const d of diffIds) assert.deepEqual(by.get(d.slice(7, 19)), ['Preparing', 'Layer already exists']);
    assert.equal((list.at(-1)!.aux as { Digest: string }).Digest, firstDigest, 'the kept gzip blobs make the same manifest');
  });

  test('a push to another repository of the registry mounts the layers from the first', async () => {
    await client.imageTag(`${registry.host}/team/app:v1`, `${registry.host}/team/other`, 'v2');
    const list = await messages(await client.imagePush(`${registry.host}/team/other`, { tag: 'v2' }));
    const by = statusesById(list);
    for (const d of diffIds) assert.deepEqual(by.get(d.slice(7, 19)), ['Preparing', 'Mounted from team/app']);
    assert.equal((list.at(-1)!.aux as { Digest: string }).Digest, firstDigest);
    const raw = await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/team/other:v2`]);
    assert.equal(digestOf(raw), firstDigest);
  });

  test('an image pulled from the registry goes to another of its repositories by mounts, with its own manifest', async () => {
    await client.imageTag(`${registry.host}/team/app:v1`, `${registry.host}/team/pulled`, 'v1');
    await client.imagePush(`${registry.host}/team/pulled`, { tag: 'v1' }).then(messages);
    // A fresh daemon pulls it: its blobs carry the pull's distribution source label.
    const other = await startTestDaemon({ hostNetwork: true });
    try {
      const otherClient = new EngineClient({ host: resolveHost({ flag: other.host }) });
      const pulled = await messages(await otherClient.imagePull(`${registry.host}/team/pulled`, 'v1'));
      assert.equal(pulled.filter((m) => m.error).length, 0, JSON.stringify(pulled.at(-1)));
      await otherClient.imageTag(`${registry.host}/team/pulled:v1`, `${registry.host}/team/moved`, 'v1');
      const list = await messages(await otherClient.imagePush(`${registry.host}/team/moved`, { tag: 'v1' }));
      const by = statusesById(list);
      for (const d of diffIds) assert.deepEqual(by.get(d.slice(7, 19)), ['Preparing', 'Mounted from team/pulled']);
      assert.equal((list.at(-1)!.aux as { Digest: string }).Digest, firstDigest, 'the pulled manifest, byte for byte');
    } finally {
      await other.stop();
    }
  });

  test('without a tag every tag of the repository is pushed, in order (push -a)', async () => {
    await client.imageTag('busybox', `${registry.host}/team/app`, 'a-busybox');
    const list = await messages(await client.imagePush(`${registry.host}/team/app`));
    const digests = list.filter((m) => m.status?.includes(': digest: ')).map((m) => m.status!.split(':')[0]);
    assert.deepEqual(digests, ['a-busybox', 'v1']);
    const auxTags = list.filter((m) => m.aux).map((m) => (m.aux as { Tag: string }).Tag);
    assert.deepEqual(auxTags, ['a-busybox', 'v1']);
    const tags = JSON.parse(await skopeo(['list-tags', '--tls-verify=false', `docker://${registry.host}/team/app`])) as { Tags: string[] };
    assert.deepEqual(tags.Tags.sort(), ['a-busybox', 'v1']);
  });

  test('errors: a bad name is a 400; a missing image or tag, and a registry that is down, end the stream with an error', async () => {
    await assert.rejects(client.imagePush('Team/App'), /invalid reference format: repository name \(library\/Team\/App\) must be lowercase|invalid reference format/);
    const none = await messages(await client.imagePush(`${registry.host}/team/none`, { tag: 'v1' }));
    assert.deepEqual(none.at(-1), { errorDetail: { message: `An image does not exist locally with the tag: ${registry.host}/team/none` }, error: `An image does not exist locally with the tag: ${registry.host}/team/none` });
    const noTag = await messages(await client.imagePush(`${registry.host}/team/app`, { tag: 'v9' }));
    assert.equal(noTag.at(-1)?.error, `tag does not exist: ${registry.host}/team/app:v9`);

    const down = await startDistributionRegistry();
    await down.stop();
    await client.imageTag('busybox', `${down.host}/gone/app`, 'v1');
    const failed = await messages(await client.imagePush(`${down.host}/gone/app`, { tag: 'v1' }));
    const error = failed.at(-1)?.error ?? '';
    assert.ok(error.includes(down.host), `the error names the registry: ${error}`);
  });

  test('an image whose layers are stored compressed is pushed as it is: its own manifest bytes and digest', async () => {
    // skopeo makes an OCI archive of the pushed image (gzip layers, an OCI manifest); berth loads it.
    const archive = path.join(tmp, 'oci.tar');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${registry.host}/team/app:v1`, `oci-archive:${archive}:${registry.host}/team/loaded:v1`]);
    const load = await berth(daemon.host, ['load', '-i', archive]);
    assert.equal(load.code, 0, load.stderr);
    const index = JSON.parse((await runCommand('tar', ['-xOf', archive, 'index.json'])).stdout) as { manifests: Array<{ digest: string; size: number }> };
    const other = await startDistributionRegistry();
    try {
      await client.imageTag(`${registry.host}/team/loaded:v1`, `${other.host}/copy/app`, 'v1');
      const list = await messages(await client.imagePush(`${other.host}/copy/app`, { tag: 'v1' }));
      const by = statusesById(list);
      for (const d of diffIds) assert.equal(by.get(d.slice(7, 19))?.at(-1), 'Pushed');
      assert.deepEqual(list.at(-1)!.aux, { Tag: 'v1', Digest: index.manifests[0]!.digest, Size: index.manifests[0]!.size });
      const raw = await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${other.host}/copy/app:v1`]);
      assert.equal(digestOf(raw), index.manifests[0]!.digest);
      assert.equal((JSON.parse(raw) as { mediaType: string }).mediaType, 'application/vnd.oci.image.manifest.v1+json');
    } finally {
      await other.stop();
    }
  });

  test('credentials go in X-Registry-Auth: without them the registry\'s 401 is the error, with them the push works', async () => {
    const secured = await startDistributionRegistry({ users: [{ username: 'alice', password: 's3cret' }] });
    try {
      await client.imageTag('busybox', `${secured.host}/private/app`, 'v1');
      const denied = await messages(await client.imagePush(`${secured.host}/private/app`, { tag: 'v1' }));
      assert.match(denied.at(-1)?.error ?? '', /unauthorized: authentication required/);
      const wrong = await messages(await client.imagePush(`${secured.host}/private/app`, { tag: 'v1', registryAuth: encodeRegistryAuth({ username: 'alice', password: 'nope' }) }));
      assert.match(wrong.at(-1)?.error ?? '', /unauthorized/);
      const ok = await messages(await client.imagePush(`${secured.host}/private/app`, { tag: 'v1', registryAuth: encodeRegistryAuth({ username: 'alice', password: 's3cret' }) }));
      assert.equal(ok.filter((m) => m.error).length, 0, JSON.stringify(ok.at(-1)));
      assert.equal((ok.at(-1)!.aux as { Tag: string }).Tag, 'v1');
    } finally {
      await secured.stop();
    }
  });

  test('a user the registry knows but may not push gets its 403 DENIED (berth registry serve, token auth)', { skip: berthRegistrySkipReason() ?? false }, async () => {
    const access = 'rules:\n  - repository: "team-a/**"\n    pull: [alice, bob]\n    push: [alice]\n';
    const served = await startBerthRegistry({ users: [{ username: 'alice', password: 'alice-pw' }, { username: 'bob', password: 'bob-pw' }], access });
    try {
      await client.imageTag('busybox', `${served.host}/team-a/app`, 'v1');
      const bob = await messages(await client.imagePush(`${served.host}/team-a/app`, { tag: 'v1', registryAuth: encodeRegistryAuth({ username: 'bob', password: 'bob-pw' }) }));
      assert.match(bob.at(-1)?.error ?? '', /denied: requested access to the resource is denied/);
      const alice = await messages(await client.imagePush(`${served.host}/team-a/app`, { tag: 'v1', registryAuth: encodeRegistryAuth({ username: 'alice', password: 'alice-pw' }) }));
      assert.equal(alice.filter((m) => m.error).length, 0, JSON.stringify(alice.at(-1)));
    } finally {
      await served.stop();
    }
  });

  test('a client that goes away mid-push stops it: no write is left behind, and the next push works', async () => {
    // A plain layer of 24 MB of random bytes: its gzip takes a while, so the push is caught mid-way.
    const pack = tarStream.pack();
    pack.entry({ name: 'big.bin', mode: 0o644, mtime: new Date(0) }, randomBytes(24 * 1024 * 1024));
    pack.finalize();
    const imported = await messages(await client.imageImport(pack as unknown as Readable, { fromSrc: '-', repo: `${registry.host}/team/big`, tag: 'v1' }));
    assert.equal(imported.filter((m) => m.error).length, 0);
    const res = await client.imagePush(`${registry.host}/team/big`, { tag: 'v1' });
    for await (const m of parseJsonStream<JsonStreamMessage>(res)) {
      if (m.status === 'Pushing') break;
      assert.ok(!m.error, m.error);
    }
    res.destroy();
    const ingests = path.join(daemon.dataRoot, 'content', 'content', 'ingest');
    const deadline = Date.now() + 30_000;
    let left: string[] = [];
    do {
      await new Promise((resolve) => setTimeout(resolve, 200));
      left = (await fs.readdir(ingests).catch(() => [])).filter((n) => n.startsWith('anon-'));
    } while (left.length > 0 && Date.now() < deadline);
    assert.deepEqual(left, [], 'the gzip being written was dropped');
    const tagged = await fetch(`${registry.url}/v2/team/big/manifests/v1`, { method: 'HEAD' });
    assert.equal(tagged.status, 404, 'the push stopped before its manifest');
    const again = await messages(await client.imagePush(`${registry.host}/team/big`, { tag: 'v1' }));
    assert.equal(again.filter((m) => m.error).length, 0, JSON.stringify(again.at(-1)));
    const aux = again.at(-1)!.aux as { Digest: string };
    assert.equal(digestOf(await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/team/big:v1`])), aux.Digest);
  });

  test('on a terminal berth push draws byte for byte what the docker CLI draws', { skip: SCRIPT ? false : 'util-linux script is not installed' }, async () => {
    // One layer, pushed already: a deterministic stream (Preparing, then Layer already exists, redrawn in place).
    await client.imageTag('busybox', `${registry.host}/team/one`, 'v1');
    assert.equal((await messages(await client.imagePush(`${registry.host}/team/one`, { tag: 'v1' }))).filter((m) => m.error).length, 0);
    const onTerminal = async (cli: string): Promise<string> => {
      const session = new PtySession(`${cli} -H ${daemon.host} push ${registry.host}/team/one:v1`, { DOCKER_CONFIG: path.join(tmp, 'no-docker-config'), DOCKER_CLI_HINTS: 'false' }, { rows: 24, cols: 120 });
      assert.equal(await session.exited, 0, session.output);
      return session.output;
    };
    const ours = await onTerminal(CLI_MAIN);
    assert.ok(ours.includes('\x1b[1A\x1b[2K\r'), JSON.stringify(ours));
    for (const docker of DOCKER_CLIENTS) assert.equal(await onTerminal(docker), ours, docker);
  });

  test('a layer whose upload connection breaks is tried again after docker\'s countdown', async () => {
    // Failure injection: a proxy in front of the registry cuts the first connection that carries more than 1 MB.
    let cut = false;
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((down) => {
      const up = net.connect(registry.port, '127.0.0.1');
      sockets.add(down).add(up);
      let sent = 0;
      down.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        if (!cut && sent > 1_000_000) {
          cut = true;
          down.destroy();
          up.destroy();
          return;
        }
        up.write(chunk);
      });
      up.pipe(down);
      down.on('error', () => up.destroy());
      up.on('error', () => down.destroy());
      down.on('close', () => up.end());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const via = `127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    try {
      const pack = tarStream.pack();
      pack.entry({ name: 'four.bin', mode: 0o644, mtime: new Date(0) }, randomBytes(4 * 1024 * 1024));
      pack.finalize();
      await messages(await client.imageImport(pack as unknown as Readable, { fromSrc: '-', repo: `${via}/retry/app`, tag: 'v1' }));
      const list = await messages(await client.imagePush(`${via}/retry/app`, { tag: 'v1' }));
      assert.equal(list.filter((m) => m.error).length, 0, JSON.stringify(list.at(-1)));
      assert.ok(cut, 'the proxy cut an upload');
      const statuses = [...statusesById(list).values()][0]!;
      const countdown = statuses.filter((st) => st.startsWith('Retrying'));
      assert.deepEqual(countdown, ['Retrying in 5 seconds', 'Retrying in 4 seconds', 'Retrying in 3 seconds', 'Retrying in 2 seconds', 'Retrying in 1 second']);
      assert.equal(statuses.at(-1), 'Pushed');
      const aux = list.at(-1)!.aux as { Digest: string };
      assert.equal(digestOf(await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/retry/app:v1`])), aux.Digest);
    } finally {
      // The daemon keeps its connections alive: close them, or the server never closes.
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  test('berth push and the docker CLI show the same output', async () => {
    const ours = await berth(daemon.host, ['push', `${registry.host}/team/app:v1`]);
    assert.equal(ours.code, 0, ours.stderr);
    const lines = ours.stdout.split('\n');
    assert.equal(lines[0], `The push refers to repository [${registry.host}/team/app]`);
    assert.equal(lines.at(-2), `v1: digest: ${firstDigest} size: ${ours.stdout.match(/size: (\d+)/)![1]}`);
    for (const client of DOCKER_CLIENTS) {
      const theirs = await docker(client, daemon.host, ['push', `${registry.host}/team/app:v1`]);
      assert.equal(theirs.code, 0, theirs.stderr);
      // Layers finish in any order (they go concurrently, as in dockerd): same lines, same first and last.
      const a = theirs.stdout.split('\n');
      const b = ours.stdout.split('\n');
      assert.deepEqual([a[0], a.at(-2), [...a].sort()], [b[0], b.at(-2), [...b].sort()], client);
    }
    const quiet = await berth(daemon.host, ['push', '-q', `${registry.host}/team/app:v1`]);
    assert.equal(quiet.stdout, `${registry.host}/team/app:v1\n`);
  });
});
