import type { BootstrapBackend, BootstrapImage } from '../../api/backend';
import { bootstrapBusybox, bootstrapDebian } from '../../images/bootstrap';
import type { EventBus } from '../events/event-bus';
import type { ImageService } from './image-service';

/** Builds berth's base images into the image service and announces them. */
export class BootstrapBackendImpl implements BootstrapBackend {
  constructor(
    private readonly images: ImageService,
    private readonly events: EventBus,
  ) {}

  async bootstrap(name: BootstrapImage, tag: string | undefined): Promise<string> {
    const id = name === 'busybox' ? await bootstrapBusybox(this.images, tag ? { tag } : {}) : await bootstrapDebian(this.images, tag ? { tag } : {});
    this.events.publish('image', 'bootstrap', id, { name: tag ?? (name === 'busybox' ? 'busybox:latest' : 'debian:bookworm') });
    return id;
  }
}
