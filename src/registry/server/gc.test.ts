import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { digestOf, type Digest } from '../../util/digest';
import { startTestRegistry, type TestRegistry } from '../../../test/helpers/registry-server';
import { runCommand } from '../../../test/helpers/cli';
import { CLI_MAIN } from '../../../test/helpers/test-daemon';
import { collectGarbage, manifestReferences } from './gc';
import { GC_FENCE_KEY, raiseFence } from './gc-fence';
import * as os from 'node:os';
import type { StorageDriver } from './storage/driver';
import { RepositoryStore } from './storage/repositories';

/** gc over a registry filled through its real HTTP routes. */

let reg: TestRegistry;
beforeEach(async () => {
  reg = await startTestRegistry();
});
afterEach(async () => {
  await reg.stop();
});

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const LATER = () => Date.now() + 2 * 3600_000;

async function pushBlob(repo: string, data: Buffer): Promise<{ digest: Digest; size: number }> {
  const digest = digestOf(data);
  const res = await reg.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(res.status, 201, res.body.toString());
  return { digest, size: data.length };
}

async function putManifest(repo: string, ref: string, doc: Record<string, unknown>, type = OCI_MANIFEST): Promise<{ digest: Digest; size: number }> {
  const body = JSON.stringify({ schemaVersion: 2, mediaType: type, ...doc });
  const res = await reg.request('PUT', `/v2/${repo}/manifests/${ref}`, { body, headers: { 'Content-Type': type } });
  assert.equal(res.status, 201, res.body.toString());
  return { digest: digestOf(body), size: body.length };
}

function image(config: { digest: Digest; size: number }, layers: Array<{ digest: Digest; size: number }>, extra: Record<string, unknown> = {}) {
  return {
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l })),
    ...extra,
  };
}

async function pushImage(repo: string, ref: string, shared?: { digest: Digest; size: number }) {
  const config = await pushBlob(repo, Buffer.from(JSON.stringify({ os: 'linux', n: randomBytes(8).toString('hex') })));
  const layer = await pushBlob(repo, randomBytes(3000));
  const layers = shared ? [shared, layer] : [layer];
  const manifest = await putManifest(repo, ref, image(config, layers));
  return { config, layer, manifest };
}

async function blobStatus(repo: string, digest: Digest): Promise<number> {
  return (await reg.request('HEAD', `/v2/${repo}/blobs/${digest}`)).status;
}

async function stored(digest: Digest): Promise<boolean> {
  return (await reg.driver.statBlob(digest)) !== undefined;
}

test('gc keeps what tags, digests, indexes and referrers reach, and removes the rest with its links', async () => {
  const shared = await pushBlob('team/app', randomBytes(2000));
  const kept = await pushImage('team/app', 'v1', shared);
  const doomed = await pushImage('team/app', 'v0', shared);
  const untagged = await pushImage('team/app', 'placeholder');
  assert.equal((await reg.request('DELETE', '/v2/team/app/manifests/placeholder')).status, 202, 'untag: still pullable by digest');
  // An index whose children are only reachable through it (pushed by digest).
  const amd = await pushImage('team/multi', 'tmp-amd');
  const arm = await pushImage('team/multi', 'tmp-arm');
  const index = await putManifest('team/multi', 'latest', {
    manifests: [
      { mediaType: OCI_MANIFEST, ...amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: OCI_MANIFEST, ...arm.manifest, platform: { os: 'linux', architecture: 'arm64' } },
    ],
  }, OCI_INDEX);
  // A referrer (signature) of v1, pushed by digest.
  const sigBlob = await pushBlob('team/app', Buffer.from('signature'));
  const empty = await pushBlob('team/app', Buffer.from('{}'));
  const sigBody = { artifactType: 'application/example.sig', ...image(empty, [sigBlob]), subject: { mediaType: OCI_MANIFEST, ...kept.manifest } };
  const sigDigest = digestOf(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, ...sigBody }));
  await putManifest('team/app', sigDigest, sigBody);
  // A blob uploaded but never referenced, and one whose image was deleted.
  const orphan = await pushBlob('team/other', randomBytes(500));
  assert.equal((await reg.request('DELETE', `/v2/team/app/manifests/${doomed.manifest.digest}`)).status, 202);

  const dry = await collectGarbage(reg.driver, { dryRun: true, now: LATER() });
  const expectRemoved = [doomed.config.digest, doomed.layer.digest, doomed.manifest.digest, orphan.digest].sort();
  assert.deepEqual(dry.removed.map((b) => b.digest).sort(), expectRemoved);
  for (const d of expectRemoved) assert.equal(await stored(d), true, 'dry run removes nothing');

  const lines: string[] = [];
  const report = await collectGarbage(reg.driver, { now: LATER(), settleMs: 10, onRemove: (l) => lines.push(l) });
  assert.deepEqual(report.removed.map((b) => b.digest).sort(), expectRemoved);
  assert.equal(report.removedBytes, report.removed.reduce((n, b) => n + b.size, 0));
  assert.equal(lines.length, 4);
  assert.match(lines[0], /^deleted blob sha256:[0-9a-f]{64} \(\d+ bytes\)$/);
  for (const d of expectRemoved) assert.equal(await stored(d), false);
  // Links went with the blobs: the registry says unknown, so a push uploads them again.
  assert.equal(await blobStatus('team/app', doomed.layer.digest), 404);
  assert.equal(await blobStatus('team/other', orphan.digest), 404);
  // Everything reachable still pulls.
  for (const [repo, ref] of [['team/app', 'v1'], ['team/app', untagged.manifest.digest], ['team/multi', 'latest'], ['team/multi', amd.manifest.digest], ['team/app', sigDigest]]) {
    const res = await reg.request('GET', `/v2/${repo}/manifests/${ref}`, { headers: { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
    assert.equal(res.status, 200, `${repo}@${ref}`);
    const refs = manifestReferences(res.body);
    for (const d of [...refs.blobs]) assert.equal(await blobStatus(repo, d), 200, `${repo}@${ref} → ${d}`);
  }
  assert.equal(await stored(shared.digest), true);
  assert.equal(await stored(index.digest), true);
  // A second run finds nothing.
  assert.equal((await collectGarbage(reg.driver, { now: LATER(), settleMs: 10 })).removed.length, 0);
});

test('gc never races an upload: recent blobs and repositories with an upload in progress are kept; stale uploads go', async () => {
  const done = await pushImage('busy/app', 'v1');
  assert.equal((await reg.request('DELETE', `/v2/busy/app/manifests/${done.manifest.digest}`)).status, 202);
  // A push in progress in busy/app: a layer committed, the next one half uploaded.
  const start = await reg.request('POST', '/v2/busy/app/blobs/uploads/');
  assert.equal(start.status, 202);
  const location = start.headers.location!;
  const patch = await reg.request('PATCH', location, { body: randomBytes(100), headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(patch.status, 202);
  // Another repository's unreferenced blob, written just now.
  const fresh = await pushBlob('idle/app', randomBytes(100));

  // Now: the fresh blob is recent, busy/app's blobs are protected by its upload.
  const now = await collectGarbage(reg.driver, { settleMs: 10 });
  assert.equal(now.removed.length, 0);
  assert.ok(now.keptRecent >= 4);
  // Two hours later the upload is still in progress (expiry 7 days): busy/app keeps its blobs.
  const later = await collectGarbage(reg.driver, { now: LATER(), settleMs: 10 });
  // The deleted manifest goes (it is no layer of the push); config and layer stay.
  assert.deepEqual(later.removed.map((b) => b.digest).sort(), [fresh.digest, done.manifest.digest].sort());
  assert.equal(later.keptUploading, 2);
  assert.equal(await blobStatus('busy/app', done.layer.digest), 200);
  // The upload resumes and completes afterwards.
  const status = await reg.request('GET', location);
  assert.equal(status.status, 204);
  assert.equal(status.headers.range, '0-99');
  // With a one-hour expiry the upload is abandoned: gc removes it, then the blobs.
  const expired = await collectGarbage(reg.driver, { now: LATER(), settleMs: 10, uploadExpiryMs: 3600_000 });
  assert.equal(expired.removedUploads.length, 1);
  assert.match(expired.removedUploads[0], /^busy\/app\//);
  assert.deepEqual(expired.removed.map((b) => b.digest).sort(), [done.config.digest, done.layer.digest].sort());
  assert.equal((await reg.request('GET', location)).status, 404);
});

test('gc marks again before deleting: a manifest pushed while it runs keeps its blobs', async () => {
  const old = await pushImage('race/app', 'v1');
  assert.equal((await reg.request('DELETE', `/v2/race/app/manifests/${old.manifest.digest}`)).status, 202);
  // Failure injection: while gc lists blobs (after its first mark), a client re-pushes the
  // image — HEAD finds the blobs, so only the manifest is PUT.
  const driver: StorageDriver = Object.create(reg.driver) as StorageDriver;
  driver.listBlobs = async function* () {
    for await (const b of reg.driver.listBlobs()) yield b;
    assert.equal(await blobStatus('race/app', old.layer.digest), 200);
    await putManifest('race/app', 'v1', image(old.config, [old.layer]));
  };
  const report = await collectGarbage(driver, { now: LATER(), settleMs: 10 });
  assert.equal(report.removed.length, 0, 'nothing removed: the re-pushed manifest references every candidate');
  const get = await reg.request('GET', '/v2/race/app/manifests/v1', { headers: { Accept: OCI_MANIFEST } });
  assert.equal(get.status, 200);
  for (const d of [old.config.digest, old.layer.digest]) assert.equal(await blobStatus('race/app', d), 200);
});

test('berth registry gc: --dry-run prints, a run removes, bad input is named', async () => {
  const img = await pushImage('cli/app', 'v1');
  assert.equal((await reg.request('DELETE', `/v2/cli/app/manifests/${img.manifest.digest}`)).status, 202);
  const root = path.join(reg.root, 'storage');
  const gc = (...args: string[]) => runCommand(CLI_MAIN, ['registry', 'gc', ...args]);
  const dry = await gc('--root', root, '--dry-run', '--keep-recent', '0s');
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(dry.stdout.split('\n').filter((l) => l.startsWith('would delete blob sha256:')).length, 3, dry.stdout);
  assert.match(dry.stdout, /1 repositories, 0 referenced blobs; would remove 3 blobs \(\d+ bytes\) and 0 uploads\n$/);
  assert.equal(await stored(img.layer.digest), true);
  const recent = await gc('--root', root);
  assert.equal(recent.code, 0, recent.stderr);
  assert.match(recent.stdout, /removed 0 blobs .*kept 3 unreferenced blobs \(3 written recently, 0 in repositories with uploads in progress\)/);
  const run = await gc('--root', root, '--keep-recent', '0s');
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.split('\n').filter((l) => l.startsWith('deleted blob sha256:')).length, 3);
  assert.equal(await stored(img.layer.digest), false);
  await fs.access(path.join(root, 'gc.lock')).then(() => assert.fail('the lock is released'), () => undefined);

  const missing = await gc();
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /a storage root is required: --root DIR/);
  const notRoot = await gc('--root', reg.root);
  assert.match(notRoot.stderr, /is not a registry storage root/);
  const badDuration = await gc('--root', root, '--keep-recent', 'soon');
  assert.match(badDuration.stderr, /invalid --keep-recent "soon": expected a duration such as 30m or 1h/);
  // A live holder of the lock (this test process) keeps a second gc out.
  await fs.writeFile(path.join(root, 'gc.lock'), `${process.pid}\n`);
  const locked = await gc('--root', root);
  assert.equal(locked.code, 1);
  assert.match(locked.stderr, new RegExp(`another gc \\(pid ${process.pid}\\) is running`));
  // A lock left by a dead process is taken over.
  await fs.writeFile(path.join(root, 'gc.lock'), '999999999\n');
  assert.equal((await gc('--root', root)).code, 0);
});

test('the fence: a manifest PUT waits while gc sweeps, then finds the swept blobs unknown; a dead holder is ignored', async () => {
  const doomed = await pushImage('fence/app', 'v1');
  const manifestBody = image(doomed.config, [doomed.layer]);
  assert.equal((await reg.request('DELETE', `/v2/fence/app/manifests/${doomed.manifest.digest}`)).status, 202);

  // Injection: at gc's first delete, a client re-pushes the manifest (HEAD found its blobs before).
  let put: Promise<{ status: number; body: Buffer }> | undefined;
  let putDone = false;
  const driver: StorageDriver = Object.create(reg.driver) as StorageDriver;
  driver.deleteBlob = async (digest) => {
    if (!put) {
      const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, ...manifestBody });
      put = reg.request('PUT', '/v2/fence/app/manifests/v1', { body, headers: { 'Content-Type': OCI_MANIFEST } }).then((r) => {
        putDone = true;
        return r;
      });
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(putDone, false, 'the PUT waits at the fence');
    }
    return reg.driver.deleteBlob(digest);
  };
  const report = await collectGarbage(driver, { now: LATER(), settleMs: 10 });
  assert.equal(report.removed.length, 3);
  const res = await put!;
  assert.equal(res.status, 400);
  assert.equal(JSON.parse(res.body.toString()).errors[0].code, 'MANIFEST_BLOB_UNKNOWN', 'refused cleanly: the client uploads the blobs again');
  assert.equal((await reg.request('GET', '/v2/fence/app/manifests/v1')).status, 404);
  assert.equal(await reg.driver.getMetadata(GC_FENCE_KEY), undefined, 'the fence is dropped');

  // A held fence blocks; a dropped one releases.
  const again = await pushImage('fence/b', 'v1');
  const drop = await raiseFence(reg.driver);
  await assert.rejects(raiseFence(reg.driver), /another gc \(pid \d+ on .*\) holds the fence/);
  let done = false;
  const waiting = reg.request('PUT', '/v2/fence/b/manifests/v2', { body: JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, ...image(again.config, [again.layer]) }), headers: { 'Content-Type': OCI_MANIFEST } })
    .then((r) => ((done = true), r));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(done, false);
  await drop();
  assert.equal((await waiting).status, 201);
  // A fence left by a process that is gone is ignored.
  await reg.driver.putMetadata(GC_FENCE_KEY, Buffer.from(JSON.stringify({ pid: 999999999, host: os.hostname(), startedAt: Date.now() })));
  const through = await reg.request('PUT', '/v2/fence/b/manifests/v3', { body: JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, ...image(again.config, [again.layer]) }), headers: { 'Content-Type': OCI_MANIFEST } });
  assert.equal(through.status, 201);
  await reg.driver.deleteMetadata(GC_FENCE_KEY);

  // An upload of content that is already stored completes behind the fence; if gc removed
  // that blob meanwhile, the upload is refused instead of linking nothing.
  const data = randomBytes(700);
  const first = await pushBlob('fence/c', data);
  const dropAgain = await raiseFence(reg.driver);
  const upload = reg.request('POST', `/v2/fence/d/blobs/uploads/?digest=${first.digest}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  await new Promise((r) => setTimeout(r, 300));
  await new RepositoryStore(reg.driver).unlinkBlob('fence/c', first.digest);
  await reg.driver.deleteBlob(first.digest);
  await dropAgain();
  const refused = await upload;
  assert.equal(refused.status, 400);
  assert.equal(refused.json().errors[0].code, 'BLOB_UPLOAD_INVALID');
  assert.match(refused.json().errors[0].message, /removed by garbage collection/);
  assert.equal(await blobStatus('fence/d', first.digest), 404);
  // Uploaded again, it is stored and linked.
  await pushBlob('fence/d', data);
  assert.equal(await blobStatus('fence/d', first.digest), 200);
});

async function putByDigest(repo: string, doc: Record<string, unknown>, type = OCI_MANIFEST): Promise<{ digest: Digest; size: number }> {
  const digest = digestOf(JSON.stringify({ schemaVersion: 2, mediaType: type, ...doc }));
  return putManifest(repo, digest, doc, type);
}

async function imageByDigest(repo: string) {
  const config = await pushBlob(repo, Buffer.from(JSON.stringify({ os: 'linux', n: randomBytes(8).toString('hex') })));
  const layer = await pushBlob(repo, randomBytes(1000));
  const manifest = await putByDigest(repo, image(config, [layer]));
  return { config, layer, manifest };
}

function indexOf(...children: Array<{ manifest: { digest: Digest; size: number } }>) {
  return { manifests: children.map((c, i) => ({ mediaType: OCI_MANIFEST, ...c.manifest, platform: { os: 'linux', architecture: ['amd64', 'arm64'][i] ?? 'riscv64' } })) };
}

async function manifestStatus(repo: string, ref: string): Promise<number> {
  return (await reg.request('GET', `/v2/${repo}/manifests/${ref}`, { headers: { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } })).status;
}

test('gc --delete-untagged: manifests no tag reaches go with their blobs; tagged ones, index children and referrers of what stays remain', async () => {
  const shared = await pushBlob('del/app', randomBytes(2000));
  const v1 = await pushImage('del/app', 'v1', shared);
  const old = await pushImage('del/app', 'old', shared);
  assert.equal((await reg.request('DELETE', '/v2/del/app/manifests/old')).status, 202, 'untag');
  const empty = await pushBlob('del/app', Buffer.from('{}'));
  const sign = async (subject: { digest: Digest; size: number }) => {
    const sig = await pushBlob('del/app', randomBytes(64));
    const manifest = await putByDigest('del/app', { artifactType: 'application/example.sig', ...image(empty, [sig]), subject: { mediaType: OCI_MANIFEST, ...subject } });
    return { sig, manifest };
  };
  const sigV1 = await sign(v1.manifest);
  const sigOld = await sign(old.manifest);
  // A tagged index whose children were pushed by digest (distribution 2.8 deletes such children), and an untagged one.
  const amd = await imageByDigest('del/multi');
  const arm = await imageByDigest('del/multi');
  const latest = await putManifest('del/multi', 'latest', indexOf(amd, arm), OCI_INDEX);
  const staleChild = await imageByDigest('del/multi');
  const staleIndex = await putManifest('del/multi', 'stale', indexOf(staleChild), OCI_INDEX);
  assert.equal((await reg.request('DELETE', '/v2/del/multi/manifests/stale')).status, 202);

  // Without the flag an untagged manifest is a root: nothing goes.
  assert.deepEqual((await collectGarbage(reg.driver, { dryRun: true, now: LATER() })).removed, []);

  const expectManifests = [`del/app@${old.manifest.digest}`, `del/app@${sigOld.manifest.digest}`, `del/multi@${staleIndex.digest}`, `del/multi@${staleChild.manifest.digest}`].sort();
  const expectBlobs = [old.config.digest, old.layer.digest, old.manifest.digest, sigOld.sig.digest, sigOld.manifest.digest,
    staleIndex.digest, staleChild.manifest.digest, staleChild.config.digest, staleChild.layer.digest].sort();
  const dry = await collectGarbage(reg.driver, { dryRun: true, deleteUntagged: true, now: LATER() });
  assert.deepEqual(dry.removedManifests.sort(), expectManifests);
  assert.deepEqual(dry.removed.map((b) => b.digest).sort(), expectBlobs);
  assert.equal(await manifestStatus('del/app', old.manifest.digest), 200, 'dry run deletes nothing');

  const lines: string[] = [];
  const report = await collectGarbage(reg.driver, { deleteUntagged: true, now: LATER(), settleMs: 10, onRemove: (l) => lines.push(l) });
  assert.deepEqual(report.removedManifests.sort(), expectManifests);
  assert.deepEqual(report.removed.map((b) => b.digest).sort(), expectBlobs);
  assert.equal(lines.filter((l) => /^deleted manifest del\/(app|multi)@sha256:[0-9a-f]{64}$/.test(l)).length, 4, lines.join('\n'));
  for (const d of expectBlobs) assert.equal(await stored(d), false, d);
  for (const [repo, ref] of [['del/app', old.manifest.digest], ['del/app', sigOld.manifest.digest], ['del/multi', staleIndex.digest], ['del/multi', staleChild.manifest.digest]]) {
    assert.equal(await manifestStatus(repo, ref), 404, `${repo}@${ref}`);
  }
  // What a tag reaches still pulls, blobs included.
  for (const [repo, ref] of [['del/app', 'v1'], ['del/app', sigV1.manifest.digest], ['del/multi', 'latest'], ['del/multi', amd.manifest.digest], ['del/multi', arm.manifest.digest]]) {
    const res = await reg.request('GET', `/v2/${repo}/manifests/${ref}`, { headers: { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
    assert.equal(res.status, 200, `${repo}@${ref}`);
    for (const d of manifestReferences(res.body).blobs) assert.equal(await blobStatus(repo, d), 200, `${repo}@${ref} → ${d}`);
  }
  for (const d of [shared.digest, empty.digest, latest.digest]) assert.equal(await stored(d), true);
  const referrers = await reg.request('GET', `/v2/del/app/referrers/${v1.manifest.digest}`);
  assert.deepEqual(referrers.json().manifests.map((m: { digest: string }) => m.digest), [sigV1.manifest.digest]);
  // Tags list unchanged; a second run finds nothing.
  assert.deepEqual((await reg.request('GET', '/v2/del/app/tags/list')).json().tags, ['v1']);
  const second = await collectGarbage(reg.driver, { deleteUntagged: true, now: LATER(), settleMs: 10 });
  assert.deepEqual([second.removedManifests, second.removed], [[], []]);
});

test('gc --delete-untagged never breaks a push in flight: recent untagged manifests and repositories with an upload stay; a manifest tagged meanwhile stays', async () => {
  // A multi-arch push: the children are up (by digest), the index is not yet.
  const amd = await imageByDigest('fly/multi');
  const arm = await imageByDigest('fly/multi');
  const now = await collectGarbage(reg.driver, { deleteUntagged: true, settleMs: 10 });
  assert.deepEqual([now.removedManifests, now.removed], [[], []]);
  assert.equal(now.keptUntagged, 2);
  assert.equal((await reg.request('PUT', '/v2/fly/multi/manifests/latest', {
    body: JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, ...indexOf(amd, arm) }), headers: { 'Content-Type': OCI_INDEX },
  })).status, 201, 'the index push completes');

  // Hours later, while another upload is in progress in the repository, its untagged manifest stays.
  const waiting = await imageByDigest('fly/slow');
  const start = await reg.request('POST', '/v2/fly/slow/blobs/uploads/');
  assert.equal(start.status, 202);
  const busy = await collectGarbage(reg.driver, { deleteUntagged: true, now: LATER(), settleMs: 10 });
  assert.deepEqual(busy.removedManifests, []);
  assert.equal(busy.keptUntagged, 1);
  assert.equal(await manifestStatus('fly/slow', waiting.manifest.digest), 200);
  assert.equal((await reg.request('DELETE', start.headers.location!)).status, 204);

  // Untagged at gc's first pass, tagged before its fenced pass: it stays, with its blobs.
  const driver: StorageDriver = Object.create(reg.driver) as StorageDriver;
  driver.listBlobs = async function* () {
    for await (const b of reg.driver.listBlobs()) yield b;
    await putManifest('fly/slow', 'v1', image(waiting.config, [waiting.layer]));
  };
  const raced = await collectGarbage(driver, { deleteUntagged: true, now: LATER(), settleMs: 10 });
  assert.deepEqual([raced.removedManifests, raced.removed], [[], []]);
  assert.equal(await manifestStatus('fly/slow', 'v1'), 200);
  assert.equal(await blobStatus('fly/slow', waiting.layer.digest), 200);
  assert.equal(await manifestStatus('fly/multi', 'latest'), 200);
});

test('berth registry gc --delete-untagged (-m) deletes untagged manifests and says so', async () => {
  const img = await pushImage('cli/untag', 'v1');
  await pushImage('cli/untag', 'v2');
  assert.equal((await reg.request('DELETE', '/v2/cli/untag/manifests/v1')).status, 202);
  const root = path.join(reg.root, 'storage');
  const gc = (...args: string[]) => runCommand(CLI_MAIN, ['registry', 'gc', '--root', root, ...args]);
  const recent = await gc('--delete-untagged');
  assert.equal(recent.code, 0, recent.stderr);
  assert.match(recent.stdout, /removed 0 untagged manifests, 0 blobs .*; kept 1 untagged manifests \(pushed recently or in repositories with uploads in progress\)\n$/);
  const dry = await gc('-m', '-n', '--keep-recent', '0s');
  assert.match(dry.stdout, new RegExp(`^would delete manifest cli/untag@${img.manifest.digest}$`, 'm'));
  assert.match(dry.stdout, /would remove 1 untagged manifests, 3 blobs/);
  const run = await gc('-m', '--keep-recent', '0s');
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`^deleted manifest cli/untag@${img.manifest.digest}$`, 'm'));
  assert.equal(await manifestStatus('cli/untag', img.manifest.digest), 404);
  assert.equal(await manifestStatus('cli/untag', 'v2'), 200);
  assert.equal(await stored(img.layer.digest), false);
});
