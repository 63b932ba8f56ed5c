import { promises as fs, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { native } from '../../native';
import { errnoCode } from '../../errors';
import { closeFd, openBeneath, openHostDir } from '../../util/fs-at';
import type { MountSpec } from '../dockerfile/instructions';
import { cleanSourcePath } from './context-sources';

/** A RUN --mount made ready for the container: a host bind (or a tmpfs) at `target`. */
export interface RunMount {
  type: 'bind' | 'cache' | 'secret' | 'tmpfs';
  target: string;
  /** Host path for bind, cache and secret mounts. */
  source?: string;
  readonly: boolean;
  /** What the cache key takes of it (secrets: only their id, never their content). */
  keyPart: string;
}

export class MountError extends Error {}

export interface MountContext {
  contextDir: string;
  secrets: Readonly<Record<string, string>>;
  /** `<data-root>/builder/cache-mounts`. */
  cacheRoot: string;
  workdir: string;
  /** The checksum of a context path (for a bind mount's cache key). */
  checksum(rel: string): string;
}

/**
 * Resolves RUN --mount specs as BuildKit does: `cache` (a persistent folder per id, default
 * id the target), `bind` (a path of the context, read-only unless rw), `secret` (the file
 * given for its id, read-only at /run/secrets/<id> unless target is set; an absent secret
 * fails only when `required`), `tmpfs`. `ssh` and bind/cache `from=` are refused clearly.
 */
export async function resolveRunMounts(specs: readonly MountSpec[], ctx: MountContext): Promise<RunMount[]> {
  const out: RunMount[] = [];
  for (const spec of specs) {
    const o = spec.options;
    const target = absolute(o.target ?? o.dst ?? o.destination ?? '', ctx.workdir);
    const readonly = spec.type === 'bind' ? !(flag(o.rw) || flag(o.readwrite)) : flag(o.ro) || flag(o.readonly);
    switch (spec.type) {
      case 'cache': {
        if (o.from !== undefined) throw new MountError('RUN --mount=type=cache,from= is not supported by berth');
        if (target === '/') throw new MountError('cache mount needs a target');
        const id = o.id ?? target;
        const dir = path.join(ctx.cacheRoot, createHash('sha256').update(id).digest('hex'));
        await fs.mkdir(dir, { recursive: true, mode: 0o755 });
        if (o.mode !== undefined) await fs.chmod(dir, parseInt(o.mode, 8));
        if (o.uid !== undefined || o.gid !== undefined) await fs.chown(dir, Number(o.uid ?? 0), Number(o.gid ?? 0));
        out.push({ type: 'cache', target, source: dir, readonly, keyPart: `cache:${id}:${target}` });
        break;
      }
      case 'bind': {
        if (o.from !== undefined) throw new MountError('RUN --mount=type=bind,from= is not supported by berth yet: bind a path of the context');
        const rel = cleanSourcePath(o.source ?? o.src ?? '.');
        out.push({ type: 'bind', target, source: confinedHostPath(ctx.contextDir, rel), readonly, keyPart: `bind:${rel}:${target}:${readonly}:${ctx.checksum(rel)}` });
        break;
      }
      case 'secret': {
        const id = o.id ?? (o.target ? path.posix.basename(o.target) : undefined);
        if (!id) throw new MountError('secret mount needs an id');
        const file = ctx.secrets[id];
        if (file === undefined) {
          if (flag(o.required)) throw new MountError(`secret ${id}: not provided (pass it with --secret id=${id},src=<file>)`);
          continue;
        }
        out.push({ type: 'secret', target: o.target ? absolute(o.target, ctx.workdir) : `/run/secrets/${id}`, source: file, readonly: true, keyPart: `secret:${id}` });
        break;
      }
      case 'tmpfs':
        out.push({ type: 'tmpfs', target, readonly: false, keyPart: `tmpfs:${target}` });
        break;
      default:
        throw new MountError(`RUN --mount=type=${spec.type} is not supported by berth`);
    }
  }
  return out;
}

/** The host path of `rel` in the context, refused when it (through a link) leads out of it. */
function confinedHostPath(contextDir: string, rel: string): string {
  const rootFd = openHostDir(contextDir);
  try {
    closeFd(openBeneath(rootFd, rel));
  } catch (err) {
    if (errnoCode(err) === 'EXDEV' || errnoCode(err) === 'ELOOP') throw new MountError(`forbidden path outside the build context: ${rel}`);
    if (errnoCode(err) === 'ENOENT') throw new MountError(`bind mount source not found in build context: ${rel}`);
    throw err;
  } finally {
    closeFd(rootFd);
  }
  // The context is the daemon's own quiet copy: the checked path resolves the same way now.
  const real = realpathSync(path.join(contextDir, rel));
  const root = realpathSync(contextDir);
  if (real !== root && !real.startsWith(root + '/')) throw new MountError(`forbidden path outside the build context: ${rel}`);
  return real;
}

function absolute(p: string, workdir: string): string {
  const joined = p.startsWith('/') ? p : `${workdir || '/'}/${p}`;
  return '/' + cleanSourcePath(joined);
}

function flag(v: string | undefined): boolean {
  return v !== undefined && v !== 'false' && v !== '0';
}

/**
 * Removes from a RUN container's upper dir the mount points runc made for its mounts (an
 * empty file or directory where the parent layer had none, and the empty parents it made),
 * so no mount — a secret's above all — leaves a trace in the layer. Walked on fds beneath
 * the upper dir; lower dirs are only looked up.
 */
export function dropMountPoints(upper: string, lowers: readonly string[], targets: readonly string[]): void {
  const upperFd = openHostDir(upper);
  const lowerFds = lowers.map((l) => openHostDir(l));
  try {
    for (const target of targets) {
      for (let rel = cleanSourcePath(target); rel !== ''; rel = path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel)) {
        if (lowerFds.some((fd) => exists(fd, rel))) break;
        const parent = path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel);
        let parentFd: number;
        try {
          parentFd = openBeneath(upperFd, parent, { directory: true });
        } catch {
          break;
        }
        try {
          const name = path.posix.basename(rel);
          try {
            native.unlinkat(parentFd, name, 0);
          } catch (err) {
            const code = errnoCode(err);
            if (code === 'EISDIR' || code === 'EPERM') {
              try {
                native.unlinkat(parentFd, name, native.constants.AT_REMOVEDIR);
              } catch {
                break; // not empty: the RUN wrote there
              }
            } else if (code !== 'ENOENT') throw err;
          }
        } finally {
          closeFd(parentFd);
        }
      }
    }
  } finally {
    closeFd(upperFd);
    for (const fd of lowerFds) closeFd(fd);
  }
}

function exists(dirFd: number, rel: string): boolean {
  try {
    closeFd(openBeneath(dirFd, rel));
    return true;
  } catch {
    return false;
  }
}
