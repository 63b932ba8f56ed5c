import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../../util/logger';
import type { RegistryEvent } from '../hooks';
import { WebhookNotifier, type DeliveryAttempt } from './notifier';
import { slackText } from './templates';

/** A receiver answering each POST with the next status of `statuses` (the last one repeats). */
async function receiver(statuses: number[], delayMs = 0) {
  const received: Array<{ at: number; headers: http.IncomingHttpHeaders; body: unknown }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ at: Date.now(), headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
      const status = statuses[Math.min(received.length - 1, statuses.length - 1)];
      setTimeout(() => res.writeHead(status).end('ok'), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/secret-part`;
  return { url, received, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

/** A logger that keeps its lines (the attempts must be logged). */
function recordingLogger(): Logger & { lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ level, msg, fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const PUSH: RegistryEvent = {
  action: 'push',
  target: 'manifest',
  repository: 'team-a/app',
  tag: 'v1',
  digest: 'sha256:' + 'ab'.repeat(32),
  size: 1234,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  actor: 'alice',
  time: '2026-11-30T12:00:00.000Z',
  request: { addr: '127.0.0.1:40000', host: '127.0.0.1:5000', method: 'PUT', userAgent: 'docker/28' },
};

function attemptsUntil(attempts: DeliveryAttempt[], n: number): Promise<void> {
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      if (attempts.length >= n) {
        clearInterval(poll);
        resolve();
      }
    }, 5);
  });
}

test('webhooks: a failing receiver is retried with exponential back-off, every attempt logged, then delivered once', async () => {
  const hook = await receiver([503, 500, 200]);
  const logger = recordingLogger();
  const attempts: DeliveryAttempt[] = [];
  const notifier = new WebhookNotifier([{ url: hook.url, backoffMs: 50, maxBackoffMs: 1000 }], logger, (a) => attempts.push(a));
  try {
    notifier.emit(PUSH);
    await attemptsUntil(attempts, 3);
    assert.deepEqual(attempts.map((a) => [a.attempt, a.status, a.outcome, a.retryInMs]), [[1, 503, 'retry', 50], [2, 500, 'retry', 100], [3, 200, 'delivered', undefined]]);
    assert.equal(hook.received.length, 3);
    // The waits grew: ≥ 50 ms, then ≥ 100 ms.
    assert.ok(hook.received[1].at - hook.received[0].at >= 45, `first back-off ${hook.received[1].at - hook.received[0].at} ms`);
    assert.ok(hook.received[2].at - hook.received[1].at >= 95, `second back-off ${hook.received[2].at - hook.received[1].at} ms`);
    // Same event, same id on every retry; the payload is the event.
    const ids = new Set(hook.received.map((r) => r.headers['x-berth-event-id']));
    assert.equal(ids.size, 1);
    const { id, ...rest } = hook.received[2].body as Record<string, unknown>;
    assert.equal(id, [...ids][0]);
    assert.deepEqual(rest, {
      action: 'push', target: 'manifest', repository: 'team-a/app', tag: 'v1', digest: PUSH.digest, size: 1234,
      mediaType: PUSH.mediaType, actor: 'alice', time: PUSH.time, registry: '127.0.0.1:5000',
    });
    assert.equal(hook.received[0].headers['content-type'], 'application/json');
    assert.deepEqual(logger.lines.map((l) => `${l.level} ${l.msg}`), [
      'warn webhook attempt failed; retrying', 'warn webhook attempt failed; retrying', 'info webhook delivered',
    ]);
    // Logs name the webhook and the origin, never the URL's secret path.
    assert.equal(logger.lines[0].fields?.webhook, 'webhook[0]');
    assert.ok(!JSON.stringify(logger.lines).includes('secret-part'));
  } finally {
    await notifier.close();
    await hook.close();
  }
});

test('webhooks: gives up after maxAttempts; a 4xx is final at once; the next event still goes out', async () => {
  const down = await receiver([502]);
  const rejecting = await receiver([400, 200]);
  const logger = recordingLogger();
  const attempts: DeliveryAttempt[] = [];
  const notifier = new WebhookNotifier([
    { url: down.url, name: 'down', maxAttempts: 3, backoffMs: 10 },
    { url: rejecting.url, name: 'strict', template: 'slack' },
  ], logger, (a) => attempts.push(a));
  try {
    notifier.emit(PUSH);
    notifier.emit({ ...PUSH, action: 'delete', tag: undefined, actor: undefined });
    await attemptsUntil(attempts, 8);
    const byHook = (name: string) => attempts.filter((a) => a.webhook === name).map((a) => a.outcome);
    assert.deepEqual(byHook('down'), ['retry', 'retry', 'failed', 'retry', 'retry', 'failed']);
    assert.deepEqual(byHook('strict'), ['failed', 'delivered']);
    assert.equal(down.received.length, 6);
    assert.ok(logger.lines.some((l) => l.level === 'error' && l.msg === 'webhook gave up after 3 attempts' && l.fields?.webhook === 'down'));
    assert.ok(logger.lines.some((l) => l.level === 'error' && l.msg === 'webhook rejected the event; not retrying' && l.fields?.status === 400));
    // The Slack template.
    assert.deepEqual(rejecting.received[0].body, { text: 'alice pushed `127.0.0.1:5000/team-a/app:v1` (sha256:abababababab, 1.2 kB)' });
    assert.deepEqual(rejecting.received[1].body, { text: 'anonymous deleted `127.0.0.1:5000/team-a/app` (sha256:abababababab, 1.2 kB)' });
  } finally {
    await notifier.close();
    await down.close();
    await rejecting.close();
  }
});

test('webhooks: a receiver that does not answer in time, one that refuses connections, and action filters', async () => {
  const slow = await receiver([200], 2000);
  const refused = await receiver([200]);
  await refused.close();
  const only = await receiver([200]);
  const attempts: DeliveryAttempt[] = [];
  const notifier = new WebhookNotifier([
    { url: slow.url, name: 'slow', maxAttempts: 1, timeoutMs: 100 },
    { url: refused.url, name: 'refused', maxAttempts: 2, backoffMs: 10 },
    { url: only.url, name: 'deletes', actions: ['delete'] },
  ], recordingLogger(), (a) => attempts.push(a));
  try {
    notifier.emit(PUSH);
    await attemptsUntil(attempts, 3);
    assert.deepEqual(attempts.find((a) => a.webhook === 'slow'), { webhook: 'slow', eventId: attempts[0].eventId, attempt: 1, error: 'no answer within 100 ms', durationMs: attempts.find((a) => a.webhook === 'slow')!.durationMs, outcome: 'failed' });
    assert.deepEqual(attempts.filter((a) => a.webhook === 'refused').map((a) => [a.error, a.outcome]), [['ECONNREFUSED', 'retry'], ['ECONNREFUSED', 'failed']]);
    assert.equal(only.received.length, 0, 'a push is not sent to a delete-only webhook');
    notifier.emit({ ...PUSH, action: 'delete' });
    await notifier.close(3000);
    assert.equal(only.received.length, 1);
  } finally {
    await slow.close();
    await only.close();
  }
});

test('webhooks: close abandons retries after the grace period and logs what was not delivered', async () => {
  const down = await receiver([503]);
  const logger = recordingLogger();
  const notifier = new WebhookNotifier([{ url: down.url, backoffMs: 60_000 }], logger);
  try {
    notifier.emit(PUSH);
    notifier.emit(PUSH);
    while (down.received.length < 1) await new Promise((r) => setTimeout(r, 5));
    const started = Date.now();
    await notifier.close(100);
    assert.ok(Date.now() - started < 2000, 'close did not wait for the 60 s back-off');
    const lost = logger.lines.filter((l) => l.msg === 'webhook event not delivered: the registry is shutting down');
    assert.equal(lost.length, 2);
    notifier.emit(PUSH);
    assert.equal(down.received.length, 1, 'nothing is sent after close');
  } finally {
    await down.close();
  }
});

test('slack text: escapes Slack control characters and shortens the digest', () => {
  const text = slackText({ id: 'x', action: 'delete', target: 'blob', repository: 'a/<b>', digest: 'sha256:' + '0'.repeat(64), time: 't', actor: 'x&y' });
  assert.equal(text, 'x&amp;y deleted blob of `a/&lt;b&gt;` (sha256:000000000000)');
});

test('webhooks with a queue folder: events wait on disk through a restart, in order; a refused one leaves the queue', async () => {
  const { promises: fs } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const spoolDir = await fs.mkdtemp(path.join(os.tmpdir(), 'whspool-'));
  const files = async () => (await Promise.all((await fs.readdir(spoolDir)).map(async (d) => fs.readdir(path.join(spoolDir, d))))).flat();
  const down = await receiver([503]);
  try {
    const logger = recordingLogger();
    const attempts: DeliveryAttempt[] = [];
    const first = new WebhookNotifier([{ url: down.url, backoffMs: 20, maxBackoffMs: 50 }], logger, (a) => attempts.push(a), { spoolDir });
    await first.restore();
    first.emit({ ...PUSH, tag: 'one' });
    first.emit({ ...PUSH, tag: 'two' });
    await attemptsUntil(attempts, 3);
    assert.ok(attempts.every((a) => a.outcome === 'retry'), 'no give-up without maxAttempts');
    await first.close(10);
    assert.equal((await files()).length, 2);
    assert.equal(logger.lines.filter((l) => /kept in the queue folder for the next start/.test(l.msg)).length, 2);

    // The next start, same URL (the queue folder is per URL): a receiver on `down`'s port that
    // refuses the first event (400, final) and takes the rest; a new event queues behind.
    await down.close();
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push((JSON.parse(Buffer.concat(chunks).toString()) as { tag: string }).tag);
        res.writeHead(seen.length === 1 ? 400 : 204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(Number(new URL(down.url).port), '127.0.0.1', resolve));
    try {
      const second = new WebhookNotifier([{ url: down.url }], recordingLogger(), undefined, { spoolDir });
      await second.restore();
      second.emit({ ...PUSH, tag: 'three' });
      while (seen.length < 3) await new Promise((r) => setTimeout(r, 10));
      await second.close(1000);
      assert.deepEqual(seen, ['one', 'two', 'three']);
      assert.deepEqual(await files(), [], 'delivered and refused events leave the folder');
    } finally {
      await new Promise((r) => server.close(r));
    }
  } finally {
    await down.close().catch(() => undefined);
    await fs.rm(spoolDir, { recursive: true, force: true });
  }
});
