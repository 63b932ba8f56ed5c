import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../../util/atomic-fs';
import type { WebhookEvent } from './templates';

/**
 * One webhook's queue on disk, so that events survive a restart of the registry: one JSON
 * file per event, written (fsynced, renamed into place) when the event is emitted and removed
 * once the receiver took it (or refused it for good). File names sort in emit order: the
 * time, then a counter, then the event's id.
 */
export interface SpooledEvent {
  file: string;
  event: WebhookEvent;
}

let counter = 0;

export class WebhookSpool {
  constructor(readonly dir: string) {}

  /** The folder for a webhook under `root`: named by its URL, so a reconfigured URL starts empty. */
  static forWebhook(root: string, url: string, index: number, duplicate: boolean): WebhookSpool {
    const key = createHash('sha256').update(url).digest('hex').slice(0, 16);
    return new WebhookSpool(path.join(root, duplicate ? `${key}-${index}` : key));
  }

  /** The events left from before, oldest first; files that do not parse are named in `bad`. */
  async load(): Promise<{ events: SpooledEvent[]; bad: string[] }> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const names = (await fs.readdir(this.dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
    const events: SpooledEvent[] = [];
    const bad: string[] = [];
    for (const name of names) {
      const file = path.join(this.dir, name);
      try {
        const event = JSON.parse(await fs.readFile(file, 'utf8')) as WebhookEvent;
        if (typeof event?.id !== 'string' || typeof event.action !== 'string') throw new Error('not an event');
        events.push({ file, event });
      } catch {
        bad.push(file);
      }
    }
    return { events, bad };
  }

  async add(event: WebhookEvent): Promise<string> {
    const name = `${String(Date.now()).padStart(15, '0')}-${String(counter++ % 1e9).padStart(9, '0')}-${event.id}.json`;
    const file = path.join(this.dir, name);
    await writeFileAtomic(file, JSON.stringify(event), 0o600);
    return file;
  }

  async remove(file: string): Promise<void> {
    await fs.rm(file, { force: true });
  }
}
