import type { Router } from '../../api/server/router';
import { sendJsonStream } from '../../api/server/json-stream';
import type { JsonStreamMessage } from '../../api/types/common';
import { invalidArgument } from '../../errors';
import { bootstrapBusybox, bootstrapDebian } from '../../images/bootstrap';
import type { EventBus } from '../events/event-bus';
import type { ImageService } from './image-service';

/**
 * berth's own endpoint, POST /berth/images/bootstrap?name=busybox|debian[&tag=...]: builds a
 * base image locally (no registry is needed), streaming progress as JSON messages.
 */
export function bootstrapRoutes(images: ImageService, events: EventBus): (router: Router) => void {
  return (router) => {
    router.post('/berth/images/bootstrap', async (ex) => {
      const name = ex.query.nonEmpty('name');
      const tag = ex.query.nonEmpty('tag');
      if (name !== 'busybox' && name !== 'debian') throw invalidArgument(`unknown base image "${name ?? ''}": choose busybox or debian`);
      async function* progress(): AsyncIterable<JsonStreamMessage> {
        yield { status: `Building ${name} from Debian packages${name === 'debian' ? ' with debootstrap (this takes a few minutes)' : ''}` };
        const id = name === 'busybox' ? await bootstrapBusybox(images, tag ? { tag } : {}) : await bootstrapDebian(images, tag ? { tag } : {});
        events.publish('image', 'bootstrap', id, { name: tag ?? (name === 'busybox' ? 'busybox:latest' : 'debian:bookworm') });
        yield { status: `Built ${tag ?? (name === 'busybox' ? 'busybox:latest' : 'debian:bookworm')}`, id };
        yield { aux: { ID: id } };
      }
      await sendJsonStream(ex, progress());
    });
  };
}
