import type { BootstrapBackend, BootstrapImage } from '../../backend';
import type { JsonStreamMessage } from '../../types/common';
import { invalidArgument } from '../../../errors';
import type { Router } from '../router';
import { sendJsonStream } from '../json-stream';

const DEFAULT_REFS: Record<BootstrapImage, string> = { busybox: 'busybox:latest', debian: 'debian:bookworm' };

/**
 * berth's own endpoint, POST /berth/images/bootstrap?name=busybox|debian[&tag=...]: builds a
 * base image locally (no registry is needed), streaming progress as JSON messages.
 */
export function addBootstrapRoutes(router: Router, backend: BootstrapBackend): void {
  router.post('/berth/images/bootstrap', async (ex) => {
    const name = ex.query.nonEmpty('name');
    const tag = ex.query.nonEmpty('tag');
    if (name !== 'busybox' && name !== 'debian') throw invalidArgument(`unknown base image "${name ?? ''}": choose busybox or debian`);
    async function* progress(): AsyncIterable<JsonStreamMessage> {
      yield { status: `Building ${name} from Debian packages${name === 'debian' ? ' with debootstrap (this takes a few minutes)' : ''}` };
      const id = await backend.bootstrap(name as BootstrapImage, tag);
      yield { status: `Built ${tag ?? DEFAULT_REFS[name as BootstrapImage]}`, id };
      yield { aux: { ID: id } };
    }
    await sendJsonStream(ex, progress());
  });
}
