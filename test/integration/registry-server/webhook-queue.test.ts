import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { berthRegistrySkipReason, freePort, terminate } from '../../helpers/registry';
import { httpRequest } from '../../helpers/registry-server';
import { CLI_MAIN } from '../../helpers/test-daemon';

/**
 * The webhook queue of `berth registry serve` survives restarts: with its receiver down, a
 * push's event is retried; the registry is killed (SIGKILL, a crash) and restarted on the same
 * storage, then stopped cleanly (SIGTERM) and restarted again, and only when the receiver comes
 * up does the event arrive: once, as it was emitted, and the queue folder is empty after it.
 */

const skip = berthRegistrySkipReason() ?? false;

interface Serve {
  child: ChildProcess;
  port: number;
  log: string;
}

async function serve(root: string, config: string, log: string): Promise<Serve> {
  const port = await freePort();
  const out = await fs.open(log, 'a');
  const child = spawn(CLI_MAIN, ['registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', path.join(root, 'storage'), '--config', config], { stdio: ['ignore', out.fd, out.fd] });
  await out.close();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await httpRequest(undefined, port, 'GET', '/v2/').then((r) => r.status, () => 0);
    if (status === 200) return { child, port, log };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`registry did not start: ${await fs.readFile(log, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const queued = async (root: string) => {
  const dir = path.join(root, 'storage', 'webhook-queue');
  const out: string[] = [];
  for (const sub of await fs.readdir(dir).catch(() => [])) for (const f of await fs.readdir(path.join(dir, sub))) out.push(f);
  return out;
};

test('webhook events wait on disk across a crash and a restart until the receiver answers 2xx', { skip }, async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'whq-'));
  const hookPort = await freePort();
  const config = path.join(root, 'serve.yaml');
  await fs.writeFile(config, `webhooks:\n  - url: http://127.0.0.1:${hookPort}/hook\n    name: ci\n    backoffMs: 100\n    maxBackoffMs: 400\n    timeoutMs: 2000\n`);
  const log = path.join(root, 'serve.log');
  let registry: Serve | undefined;
  let receiver: http.Server | undefined;
  try {
    registry = await serve(root, config, log);
    // A push: a blob, then the manifest by tag (the event).
    const layer = Buffer.from('webhook queue layer');
    const layerDigest = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
    assert.equal((await httpRequest(undefined, registry.port, 'POST', `/v2/hooks/app/blobs/uploads/?digest=${layerDigest}`, { body: layer })).status, 201);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: layerDigest, size: layer.length },
      layers: [],
    });
    const put = await httpRequest(undefined, registry.port, 'PUT', '/v2/hooks/app/manifests/v1', { body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(put.status, 201);
    const digest = put.headers['docker-content-digest'];

    // The receiver is down: attempts fail and are retried; the event is on disk.
    await waitFor('two failed attempts', async () => ((await fs.readFile(log, 'utf8')).match(/webhook attempt failed; retrying/g)?.length ?? 0) >= 2 || undefined);
    const files = await queued(root);
    assert.equal(files.length, 1, files.join(' '));

    // A crash, then a restart: still queued, still retried.
    registry.child.kill('SIGKILL');
    await new Promise((r) => registry!.child.once('exit', r));
    registry = await serve(root, config, log);
    await waitFor('the restored event', async () => /1 queued events from before the restart/.test(await fs.readFile(log, 'utf8')) || undefined);
    // A clean stop, and another start.
    await terminate(registry.child);
    assert.match(await fs.readFile(log, 'utf8'), /webhook event not delivered: the registry is shutting down; kept in the queue folder for the next start/);
    assert.deepEqual(await queued(root), files, 'the same event, kept');
    registry = await serve(root, config, log);

    // The receiver comes up: the event arrives once, as it was emitted.
    const received: Array<Record<string, unknown>> = [];
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(JSON.parse(Buffer.concat(chunks).toString()));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver!.listen(hookPort, '127.0.0.1', resolve));
    await waitFor('the delivery', async () => (received.length > 0 ? true : undefined));
    await waitFor('an empty queue', async () => ((await queued(root)).length === 0 ? true : undefined));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(received.length, 1, JSON.stringify(received));
    assert.equal(received[0].action, 'push');
    assert.equal(received[0].repository, 'hooks/app');
    assert.equal(received[0].tag, 'v1');
    assert.equal(received[0].digest, digest);
    assert.ok(files[0].endsWith(`-${received[0].id}.json`), 'the event emitted before the crash');
    assert.match(await fs.readFile(log, 'utf8'), /webhook delivered/);
  } finally {
    if (registry) await terminate(registry.child);
    if (receiver) await new Promise((r) => receiver!.close(r));
    await fs.rm(root, { recursive: true, force: true });
  }
});
