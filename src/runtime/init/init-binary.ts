import { accessSync, constants } from 'node:fs';
import { failedPrecondition } from '../../errors';

/**
 * The init `run --init` puts in front of the command (bind-mounted read-only at
 * /sbin/docker-init, as dockerd does). It must be static: it runs inside any image. Debian's
 * tini-static is what Debian's own dockerd uses (package `tini`); docker-init is the name
 * Docker's packages ship the same static tini under.
 */
export const INIT_BINARY_CANDIDATES: readonly string[] = ['/usr/bin/tini-static', '/usr/bin/docker-init', '/usr/libexec/docker/docker-init'];

export function findInitBinary(candidates: readonly string[] = INIT_BINARY_CANDIDATES): string {
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw failedPrecondition(`--init needs a static init binary on the host, but none of ${candidates.join(', ')} exists (install Debian's tini package)`);
}
