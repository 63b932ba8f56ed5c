import { close, statSync } from 'node:fs';
import { hasSealedCopy, native, type SealedCopy } from '../../native';
import { messageOf } from '../../errors';
import { lookPath } from '../../util/look-path';
import type { Logger } from '../../util/logger';

/** The sealed copy's fd, held until the monitor it is handed to has it (release then). */
export interface RuntimeLease {
  fd: number;
  release(): void;
}

interface Copy {
  fd: number;
  identity: string;
  leases: number;
  retired: boolean;
}

/**
 * One sealed in-memory copy of the runtime binary, which berth-monitor execs for every
 * `runc run` / `runc exec` (--runtime-fd). runc 1.1's `runc init` otherwise re-execs itself
 * from a read-only bind mount of its binary made in the host's mount namespace (two mount
 * calls and an unmount per container: namespace_sem contention and mountinfo churn for
 * systemd, then a second exec) or from a fresh memfd copy of it; a /proc/self/exe that is
 * already a fully sealed memfd needs neither, and nobody can write to it (CVE-2019-5736).
 * The copy is made again when the file on disk changes (its dev, inode, size, mtime or ctime
 * differ at a start); when it cannot be made (not root-owned, writable by others, not ELF, no
 * memfd), monitors exec the path, as before.
 */
export class SealedRuntime {
  private copy: Copy | undefined;
  /** The identity whose copy failed, so a failing binary costs one stat per start, not a copy. */
  private failedIdentity: string | undefined;
  private making: Promise<void> | undefined;
  private resolved: Promise<string> | undefined;

  constructor(
    private readonly binary: string,
    private readonly logger: Logger,
  ) {}

  /** A lease on the copy of the binary as it is on disk now, or undefined: exec it by path. */
  async acquire(): Promise<RuntimeLease | undefined> {
    if (!hasSealedCopy()) return undefined;
    this.resolved ??= this.binary.includes('/') ? Promise.resolve(this.binary) : lookPath(this.binary);
    const file = await this.resolved;
    let identity: string;
    try {
      // Synchronous: one stat per start (a thread-pool round trip would cost it ~0.3 ms).
      identity = identityOf(statSync(file, { bigint: true }));
    } catch {
      return undefined; // no such file: the monitor's exec reports it
    }
    if (this.copy?.identity !== identity && this.failedIdentity !== identity) {
      // Concurrent starts share one copy; a change seen meanwhile is picked up by the next start.
      this.making ??= this.replace(file, identity).finally(() => (this.making = undefined));
      await this.making;
    }
    const copy = this.copy;
    if (copy === undefined || copy.identity !== identity) return undefined;
    copy.leases++;
    let released = false;
    return {
      fd: copy.fd,
      release: () => {
        if (released) return;
        released = true;
        copy.leases--;
        this.closeIfUnused(copy);
      },
    };
  }

  private async replace(file: string, identity: string): Promise<void> {
    let made: SealedCopy;
    try {
      made = await native.sealedCopy!(file);
    } catch (err: unknown) {
      this.failedIdentity = identity;
      this.logger.warn('runc runs from its path: no sealed copy of it', { binary: file, error: messageOf(err) });
      return;
    }
    if (this.copy) this.retire(this.copy);
    // The copy's own fstat: a file replaced between the stat and the copy is seen at the next start.
    this.copy = { fd: made.fd, identity: identityOf(made), leases: 0, retired: false };
    this.failedIdentity = undefined;
    this.logger.debug('sealed copy of runc made', { binary: file, size: made.size });
  }

  private retire(copy: Copy): void {
    copy.retired = true;
    this.closeIfUnused(copy);
  }

  private closeIfUnused(copy: Copy): void {
    if (copy.retired && copy.leases === 0) close(copy.fd, () => undefined);
  }
}

function identityOf(st: { dev: bigint | string; ino: bigint | string; size: bigint | number; mtimeNs: bigint | string; ctimeNs: bigint | string }): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}
