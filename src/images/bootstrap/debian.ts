import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Digest } from '../../util/digest';
import { run } from '../../util/exec';
import { failedPrecondition } from '../../errors';
import { packDirectory } from '../../archive/tar/pack';
import type { BaseImageSink } from './base-image-sink';
import { DEFAULT_PATH } from './busybox';

/**
 * The built-in `debian:<suite>` image: `debootstrap --variant=minbase` into a temp dir,
 * trimmed like the official image (no apt lists or caches), packed as one OCI layer.
 * The mirror defaults to this machine's apt source, which works offline through its
 * configured proxy or mirror.
 */
export interface DebianOptions {
  suite?: string;
  mirror?: string;
  tag?: string;
  /** Parent directory of the temp rootfs (default os.tmpdir()). */
  workDir?: string;
}

export async function bootstrapDebian(service: BaseImageSink, opts: DebianOptions = {}): Promise<Digest> {
  const suite = opts.suite ?? 'bookworm';
  const mirror = opts.mirror ?? (await aptMirror()) ?? 'http://deb.debian.org/debian';
  const tag = opts.tag ?? `debian:${suite}`;
  const rootfs = await fs.mkdtemp(path.join(opts.workDir ?? os.tmpdir(), 'berth-debootstrap-'));
  try {
    await run('debootstrap', ['--variant=minbase', suite, rootfs, mirror]);
    await assertNothingMounted(rootfs);
    await trimRootfs(rootfs);
    const colon = tag.lastIndexOf(':');
    const hasTag = colon > tag.lastIndexOf('/');
    return await service.commitLayer({
      diffTar: packDirectory(rootfs),
      config: { Env: [DEFAULT_PATH], Cmd: ['bash'] },
      createdBy: `berth bootstrap: debootstrap --variant=minbase ${suite} ${mirror}`,
      repo: hasTag ? tag.slice(0, colon) : tag,
      tag: hasTag ? tag.slice(colon + 1) : 'latest',
    });
  } finally {
    await fs.rm(rootfs, { recursive: true, force: true });
  }
}

/** The first Debian (non-security) URI in /etc/apt/sources.list(.d). */
export async function aptMirror(etcApt = '/etc/apt'): Promise<string | undefined> {
  const candidates: string[] = [];
  const dir = path.join(etcApt, 'sources.list.d');
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names.sort()) {
    if (!name.endsWith('.sources') && !name.endsWith('.list')) continue;
    const text = await fs.readFile(path.join(dir, name), 'utf8').catch(() => '');
    candidates.push(...urisIn(text));
  }
  candidates.push(...urisIn(await fs.readFile(path.join(etcApt, 'sources.list'), 'utf8').catch(() => '')));
  return candidates.find((u) => /\/debian\/?$/.test(u)) ?? candidates.find((u) => !u.includes('security'));
}

function urisIn(text: string): string[] {
  const uris: string[] = [];
  for (const line of text.split('\n')) {
    const deb822 = /^URIs:\s*(\S+)/.exec(line);
    if (deb822) uris.push(deb822[1]);
    const oneLine = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s/.exec(line);
    if (oneLine) uris.push(oneLine[1]);
  }
  return uris;
}

/** debootstrap mounts /proc and /sys while it works; a leftover mount must never be packed (or rm -rf'd). */
async function assertNothingMounted(rootfs: string): Promise<void> {
  const mountinfo = await fs.readFile('/proc/self/mountinfo', 'utf8');
  const real = await fs.realpath(rootfs);
  for (const line of mountinfo.split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint !== undefined && (mountPoint === real || mountPoint.startsWith(real + '/'))) {
      throw failedPrecondition(`debootstrap left ${mountPoint} mounted`);
    }
  }
}

async function trimRootfs(rootfs: string): Promise<void> {
  for (const rel of ['var/lib/apt/lists', 'var/cache/apt', 'dev', 'tmp']) {
    const dir = path.join(rootfs, rel);
    const entries = await fs.readdir(dir).catch(() => [] as string[]);
    for (const name of entries) {
      if (rel === 'var/lib/apt/lists' && name === 'partial') continue;
      if (rel === 'var/cache/apt' && name === 'archives') continue;
      await fs.rm(path.join(dir, name), { recursive: true, force: true });
    }
  }
  const archives = path.join(rootfs, 'var/cache/apt/archives');
  for (const name of await fs.readdir(archives).catch(() => [] as string[])) {
    if (name.endsWith('.deb')) await fs.rm(path.join(archives, name), { force: true });
  }
}
