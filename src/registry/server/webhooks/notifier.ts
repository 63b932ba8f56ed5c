import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../../util/logger';
import type { EventSink, RegistryEvent } from '../hooks';
import { WebhookSpool } from './spool';
import { renderPayload, type WebhookEvent, type WebhookTemplate } from './templates';

/**
 * Delivers the registry's push/delete events to webhooks (the server's event sink).
 *
 * Each webhook has its own queue, delivered in order, one event at a time, in the
 * background: `emit` never blocks the request that caused the event. A delivery is a
 * `POST` of the rendered template; a network error, a timeout, 408, 429 or a 5xx is retried
 * after an exponential back-off (initial, doubled each time up to the cap) until the receiver
 * takes it (2xx), or `maxAttempts` when one is set; any other 4xx is final (the receiver
 * rejected the payload). Every attempt and its outcome is logged, with the webhook's name and
 * its URL's origin only (Slack-style URLs carry their secret in the path). A queue longer than
 * `MAX_QUEUE` drops its oldest event, logged, so a dead receiver cannot grow without bound.
 *
 * With a spool folder (serve's `<root>/webhook-queue`), each queue is also on disk
 * (spool.ts): an event is kept there until delivered or refused, so what a shutdown or a
 * crash interrupted is delivered by the next start (`restore`), in order, before new events.
 */
export interface WebhookConfig {
  url: string;
  /** Shown in logs instead of the URL; default "webhook[<index>]". */
  name?: string;
  template?: WebhookTemplate;
  /** Extra request headers (e.g. Authorization for the receiver). */
  headers?: Record<string, string>;
  /** Only these actions are sent; default both. */
  actions?: Array<'push' | 'delete'>;
  /** Attempts per event, first one included (default: until delivered). */
  maxAttempts?: number;
  /** Wait before the first retry, in ms (default 1000); doubles per retry. */
  backoffMs?: number;
  /** Longest wait between retries, in ms (default 60000). */
  maxBackoffMs?: number;
  /** Per-attempt timeout, in ms (default 10000). */
  timeoutMs?: number;
}

/** The outcome of one attempt, as logged (and returned to tests through `onAttempt`). */
export interface DeliveryAttempt {
  webhook: string;
  eventId: string;
  attempt: number;
  status?: number;
  error?: string;
  durationMs: number;
  outcome: 'delivered' | 'retry' | 'failed';
  retryInMs?: number;
}

const DEFAULTS = { maxAttempts: Infinity, backoffMs: 1000, maxBackoffMs: 60_000, timeoutMs: 10_000 };
const MAX_QUEUE = 1000;

interface Target {
  config: Required<Omit<WebhookConfig, 'headers' | 'actions'>> & Pick<WebhookConfig, 'headers' | 'actions'>;
  queue: QueuedEvent[];
  running: Promise<void> | undefined;
  spool?: WebhookSpool;
}

interface QueuedEvent {
  event: WebhookEvent;
  /** Its spool file, once written (undefined without a spool, or when the write failed). */
  file: Promise<string | undefined>;
}

type Outcome = 'delivered' | 'dropped' | 'interrupted';

export class WebhookNotifier implements EventSink {
  private readonly targets: Target[];
  private closing = false;
  private readonly stop = new AbortController();

  constructor(
    webhooks: readonly WebhookConfig[],
    private readonly logger: Logger,
    private readonly onAttempt?: (attempt: DeliveryAttempt) => void,
    options: { spoolDir?: string } = {},
  ) {
    const spoolDir = options.spoolDir;
    const duplicate = (url: string) => webhooks.filter((w) => w.url === url).length > 1;
    this.targets = webhooks.map((w, i) => ({
      config: {
        url: w.url,
        name: w.name ?? `webhook[${i}]`,
        template: w.template ?? 'json',
        headers: w.headers,
        actions: w.actions,
        maxAttempts: w.maxAttempts ?? DEFAULTS.maxAttempts,
        backoffMs: w.backoffMs ?? DEFAULTS.backoffMs,
        maxBackoffMs: w.maxBackoffMs ?? DEFAULTS.maxBackoffMs,
        timeoutMs: w.timeoutMs ?? DEFAULTS.timeoutMs,
      },
      queue: [],
      running: undefined,
      ...(spoolDir ? { spool: WebhookSpool.forWebhook(spoolDir, w.url, i, duplicate(w.url)) } : {}),
    }));
  }

  /**
   * Queues what the spool holds from before (a shutdown or crash interrupted it), ahead of
   * anything emitted later, and starts delivering it. Call once, before serving.
   */
  async restore(): Promise<void> {
    for (const target of this.targets) {
      if (!target.spool) continue;
      const { events, bad } = await target.spool.load();
      for (const file of bad) this.logger.error('webhook queue file unreadable; left in place', { webhook: target.config.name, file });
      if (events.length === 0) continue;
      this.logger.info(`webhook: ${events.length} queued events from before the restart`, { webhook: target.config.name });
      target.queue.unshift(...events.map((e) => ({ event: e.event, file: Promise.resolve<string | undefined>(e.file) })));
      target.running ??= this.drain(target).finally(() => (target.running = undefined));
    }
  }

  /** Queues the event for every webhook that wants its action; returns at once. */
  emit(input: RegistryEvent): void {
    if (this.closing) return;
    const event: WebhookEvent = {
      id: randomUUID(),
      action: input.action,
      target: input.target,
      repository: input.repository,
      ...(input.tag !== undefined ? { tag: input.tag } : {}),
      digest: input.digest,
      ...(input.size !== undefined ? { size: input.size } : {}),
      ...(input.mediaType !== undefined ? { mediaType: input.mediaType } : {}),
      ...(input.actor !== undefined ? { actor: input.actor } : {}),
      time: input.time,
      ...(input.request?.host ? { registry: input.request.host } : {}),
    };
    for (const target of this.targets) {
      if (target.config.actions && !target.config.actions.includes(event.action)) continue;
      if (target.queue.length >= MAX_QUEUE) {
        // The head may be in delivery; the oldest waiting one goes.
        const [dropped] = target.queue.splice(1, 1);
        this.logger.error('webhook queue full, dropping the oldest event', { webhook: target.config.name, eventId: dropped.event.id });
        void this.unspool(target, dropped);
      }
      const file = target.spool
        ? target.spool.add(event).catch((err: unknown) => {
            this.logger.error(`webhook event not written to the queue folder (it is delivered, but not after a restart): ${(err as Error).message}`, { webhook: target.config.name, eventId: event.id });
            return undefined;
          })
        : Promise.resolve(undefined);
      target.queue.push({ event, file });
      target.running ??= this.drain(target).finally(() => (target.running = undefined));
    }
  }

  /**
   * Waits up to `graceMs` for queued deliveries (retries included), then abandons the rest,
   * logging what was not delivered. New events are ignored from now on.
   */
  async close(graceMs = 5000): Promise<void> {
    this.closing = true;
    const pending = Promise.all(this.targets.map((t) => t.running));
    const timer = setTimeout(() => this.stop.abort(), graceMs);
    try {
      await pending;
    } finally {
      clearTimeout(timer);
    }
    for (const target of this.targets) {
      for (const item of target.queue.splice(0)) {
        await item.file; // on disk before we exit
        const kept = target.spool ? '; kept in the queue folder for the next start' : '';
        this.logger.error(`webhook event not delivered: the registry is shutting down${kept}`, { webhook: target.config.name, eventId: item.event.id });
      }
    }
  }

  private async drain(target: Target): Promise<void> {
    while (target.queue.length > 0 && !this.stop.signal.aborted) {
      const item = target.queue[0];
      await item.file; // on disk before the first attempt: a crash after it loses nothing
      const outcome = await this.deliver(target, item.event);
      if (outcome === 'interrupted') break;
      await this.unspool(target, item);
      if (target.queue[0] === item) target.queue.shift();
    }
  }

  private async unspool(target: Target, item: QueuedEvent): Promise<void> {
    const file = await item.file;
    if (file && target.spool) {
      await target.spool.remove(file).catch((err: unknown) => this.logger.error(`webhook queue file not removed: ${(err as Error).message}`, { webhook: target.config.name, file }));
    }
  }

  private async deliver(target: Target, event: WebhookEvent): Promise<Outcome> {
    const { config } = target;
    const body = JSON.stringify(renderPayload(config.template, event));
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      let status: number | undefined;
      let error: string | undefined;
      try {
        const response = await fetch(config.url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'User-Agent': 'berth-registry', 'X-Berth-Event': event.action, 'X-Berth-Event-Id': event.id, ...config.headers },
          body,
          signal: AbortSignal.any([AbortSignal.timeout(config.timeoutMs), this.stop.signal]),
          redirect: 'manual',
        });
        status = response.status;
        await response.body?.cancel();
      } catch (err) {
        error = describeFetchError(err, config.timeoutMs);
      }
      const durationMs = Math.round(performance.now() - started);
      const ok = status !== undefined && status >= 200 && status < 300;
      const retryable = !ok && (status === undefined || status === 408 || status === 429 || status >= 500);
      const last = attempt >= config.maxAttempts || this.stop.signal.aborted;
      const retryInMs = Math.min(config.backoffMs * 2 ** (attempt - 1), config.maxBackoffMs);
      const report: DeliveryAttempt = {
        webhook: config.name,
        eventId: event.id,
        attempt,
        ...(status !== undefined ? { status } : {}),
        ...(error !== undefined ? { error } : {}),
        durationMs,
        outcome: ok ? 'delivered' : retryable && !last ? 'retry' : 'failed',
        ...(retryable && !last && !ok ? { retryInMs } : {}),
      };
      this.onAttempt?.(report);
      const fields = { ...report, origin: safeOrigin(config.url), action: event.action, repository: event.repository, digest: event.digest };
      if (report.outcome === 'delivered') {
        this.logger.info('webhook delivered', fields);
        return 'delivered';
      }
      if (this.stop.signal.aborted) return 'interrupted';
      if (report.outcome === 'failed') {
        this.logger.error(retryable ? `webhook gave up after ${attempt} attempts` : 'webhook rejected the event; not retrying', fields);
        return 'dropped';
      }
      this.logger.warn('webhook attempt failed; retrying', fields);
      try {
        await sleep(retryInMs, undefined, { signal: this.stop.signal });
      } catch {
        return 'interrupted'; // close() logs it
      }
    }
  }
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'aborted';
  }
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}
