import { promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { ByteSource, lazyReadable } from '../../util/lazy-readable';
import type { Digest } from '../../util/digest';
import { run } from '../../util/exec';
import type { BaseImageSink } from './base-image-sink';
import type { PackHeader } from '../normalize-layer';

/**
 * The built-in `busybox` image: Debian's busybox-static binary with its applet links,
 * a minimal /etc, and the usual empty directories, as one OCI layer. Every header uses a
 * fixed mtime and the config a fixed creation time, so the same binary always yields the
 * same image ID.
 */
export interface BusyboxOptions {
  /** Default 'busybox:latest'. */
  tag?: string;
  /** Default /bin/busybox (Debian's busybox-static). */
  binary?: string;
}

export const BUSYBOX_EPOCH = '2024-01-01T00:00:00Z';
const MTIME = new Date(BUSYBOX_EPOCH);
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n';
const GROUP = 'root:x:0:\nnobody:x:65534:\n';
const DIRS: Array<[string, number]> = [
  ['bin', 0o755],
  ['dev', 0o755],
  ['etc', 0o755],
  ['home', 0o755],
  ['proc', 0o555],
  ['root', 0o700],
  ['sbin', 0o755],
  ['sys', 0o555],
  ['tmp', 0o1777],
  ['usr', 0o755],
  ['usr/bin', 0o755],
  ['usr/sbin', 0o755],
  ['var', 0o755],
  ['var/spool', 0o755],
  ['var/spool/mail', 0o755],
  ['var/www', 0o755],
];

export async function bootstrapBusybox(service: BaseImageSink, opts: BusyboxOptions = {}): Promise<Digest> {
  const binary = opts.binary ?? '/bin/busybox';
  const [body, list, banner] = await Promise.all([
    fs.readFile(binary),
    run(binary, ['--list-full']),
    run(binary, [], { allowFailure: true }),
  ]);
  const applets = [...new Set(list.stdout.toString().split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== 'bin/busybox'))].sort();
  const version = banner.stdout.toString().split('\n')[0]?.trim() ?? 'BusyBox';
  const tag = opts.tag ?? 'busybox:latest';
  const colon = tag.lastIndexOf(':');
  const hasTag = colon > tag.lastIndexOf('/');
  return service.commitLayer({
    diffTar: busyboxLayer(body, applets),
    config: { Env: [DEFAULT_PATH], Cmd: ['sh'] },
    created: BUSYBOX_EPOCH,
    createdBy: `berth bootstrap: ${version}`,
    repo: hasTag ? tag.slice(0, colon) : tag,
    tag: hasTag ? tag.slice(colon + 1) : 'latest',
  });
}

/** The layer tar, generated in memory: directories, /bin/busybox, hardlinked applets, /etc files. */
export function busyboxLayer(binary: Buffer, applets: readonly string[]): Readable {
  return lazyReadable(() => packBusybox(binary, applets) as unknown as ByteSource);
}

function packBusybox(binary: Buffer, applets: readonly string[]): tarStream.Pack {
  const pack = tarStream.pack();
  const base = { uid: 0, gid: 0, mtime: MTIME };
  const entries: Array<{ header: PackHeader; data?: Buffer }> = [];
  const dirs = new Map<string, number>(DIRS);
  for (const applet of applets) {
    const parts = applet.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!dirs.has(dir)) dirs.set(dir, 0o755);
    }
  }
  // Code-point order (the names are lowercase ASCII, so the order localeCompare gave): a
  // collator would load ICU's collation data into the daemon for good (~2.5 MB of idle RSS).
  for (const [name, mode] of [...dirs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    entries.push({ header: { ...base, name: `${name}/`, type: 'directory', mode } });
  }
  entries.push({ header: { ...base, name: 'bin/busybox', type: 'file', mode: 0o755, size: binary.length }, data: binary });
  for (const applet of applets) {
    entries.push({ header: { ...base, name: applet, type: 'link', linkname: 'bin/busybox', mode: 0o755 } });
  }
  entries.push({ header: { ...base, name: 'etc/group', type: 'file', mode: 0o644 }, data: Buffer.from(GROUP) });
  entries.push({ header: { ...base, name: 'etc/passwd', type: 'file', mode: 0o644 }, data: Buffer.from(PASSWD) });
  for (const e of entries) {
    if (e.data) pack.entry({ ...e.header, size: e.data.length }, e.data);
    else pack.entry(e.header);
  }
  pack.finalize();
  return pack;
}
