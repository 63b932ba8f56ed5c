import type { RegistryEvent } from '../hooks';

/**
 * Webhook payloads: the event as berth's JSON (`json`, the default) or as a Slack-compatible
 * incoming-webhook message (`slack`: `{"text": "..."}`, which Slack, Mattermost, Rocket.Chat
 * and Discord's /slack endpoint accept).
 */
export type WebhookTemplate = 'json' | 'slack';
export const WEBHOOK_TEMPLATES: readonly WebhookTemplate[] = ['json', 'slack'];

/** The event as delivered (`json` template): the server's push/delete event, flattened. */
export type WebhookEvent = Omit<RegistryEvent, 'request'> & {
  /** Unique per event; the same on every retry of it, so receivers can drop duplicates. */
  id: string;
  /** The registry's host as the client addressed it (e.g. 127.0.0.1:5000). */
  registry?: string;
};

export function renderPayload(template: WebhookTemplate, event: WebhookEvent): unknown {
  switch (template) {
    case 'json':
      return event;
    case 'slack':
      return { text: slackText(event) };
  }
}

/** One line, e.g. "alice pushed `127.0.0.1:5000/team-a/app:1.0` (sha256:0123456789ab, 1.2 MB)". */
export function slackText(event: WebhookEvent): string {
  const who = event.actor ?? 'anonymous';
  const verb = event.action === 'push' ? 'pushed' : 'deleted';
  const what = event.target === 'blob' ? 'blob of ' : '';
  const name = (event.registry ? `${event.registry}/` : '') + event.repository + (event.tag ? `:${event.tag}` : '');
  const facts = [event.digest.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]*$/, '$1')];
  if (event.size !== undefined) facts.push(humanSize(event.size));
  return `${escapeSlack(who)} ${verb} ${what}\`${escapeSlack(name)}\` (${facts.join(', ')})`;
}

/** Slack's three control characters in message text. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
