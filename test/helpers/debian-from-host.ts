import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, promises as fs, realpathSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A minimal Debian root file system as a tar, made from this (Debian) machine's own installed
 * packages instead of debootstrap (which fetches from a mirror and takes minutes): apt, dpkg,
 * a shell and the tools dpkg needs, closed over their Depends/Pre-Depends, with each package's
 * dpkg status stanza and info files, so apt sees a consistent system and can install more.
 * Undefined where dpkg-query is missing (not Debian).
 */
export async function debianRootfsTar(outFile: string): Promise<string[] | undefined> {
  if (!existsSync('/usr/bin/dpkg-query')) return undefined;
  const packages = installedClosure(['apt', 'dpkg', 'dash', 'coreutils', 'tar', 'diffutils', 'libc-bin', 'base-files', 'base-passwd', 'debian-archive-keyring', 'findutils', 'grep', 'sed']);
  const staging = await fs.mkdtemp(path.join(os.tmpdir(), 'deb-rootfs-'));
  try {
    const files = new Set<string>();
    for (const pkg of packages) {
      for (const listed of dpkgQuery(['-L', pkg]).split('\n')) {
        if (!listed.startsWith('/') || listed === '/.') continue;
        // Through the host's /bin → usr/bin links to where the file really is (the links are added below).
        let real: string;
        try {
          real = path.join(realpathSync(path.dirname(listed)), path.basename(listed));
        } catch {
          continue;
        }
        if (existsSync(real) || isLink(real)) files.add(real.slice(1));
      }
      for (const info of await fs.readdir('/var/lib/dpkg/info')) {
        if (info.startsWith(`${pkg}.`) || info.startsWith(`${pkg}:`)) files.add(`var/lib/dpkg/info/${info}`);
      }
    }
    const s = (rel: string, content: string, mode = 0o644) => fs.mkdir(path.join(staging, path.dirname(rel)), { recursive: true }).then(() => fs.writeFile(path.join(staging, rel), content, { mode }));
    await s('var/lib/dpkg/status', `${dpkgQuery(['-s', ...packages]).trim()}\n\n`);
    await s('var/lib/dpkg/available', '');
    await s('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
    await s('etc/group', 'root:x:0:\nnogroup:x:65534:\n');
    for (const dir of ['var/lib/dpkg/updates', 'var/lib/dpkg/triggers', 'var/lib/dpkg/alternatives', 'var/lib/apt/lists/partial', 'var/cache/apt/archives/partial', 'etc/apt/sources.list.d', 'root', 'tmp', 'proc', 'sys', 'dev']) {
      await fs.mkdir(path.join(staging, dir), { recursive: true });
    }
    await fs.chmod(path.join(staging, 'tmp'), 0o1777);
    for (const link of ['bin', 'sbin', 'lib', 'lib64']) if (isLink(`/${link}`)) await fs.symlink(await fs.readlink(`/${link}`), path.join(staging, link));
    const list = path.join(staging, '..', `${path.basename(staging)}.list`);
    await fs.writeFile(list, [...files].sort().join('\n') + '\n');
    try {
      execFileSync('tar', ['--no-recursion', '--numeric-owner', '-cf', outFile, '-C', '/', '-T', list]);
      execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-rf', outFile, '-C', staging, '.']);
    } finally {
      await fs.rm(list, { force: true });
    }
    return packages;
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

function dpkgQuery(args: string[]): string {
  return execFileSync('dpkg-query', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The installed packages `roots` need, following Depends and Pre-Depends (the first of each alternative that is installed, or provided). */
function installedClosure(roots: string[]): string[] {
  const installed = new Map<string, string>();
  const providers = new Map<string, string>();
  for (const line of dpkgQuery(['-W', '-f', '${Package}\t${Status}\t${Depends}, ${Pre-Depends}\t${Provides}\n']).split('\n')) {
    const [name, status, deps, provides] = line.split('\t');
    if (!name || !status?.endsWith('install ok installed')) continue;
    installed.set(name, deps ?? '');
    for (const virtual of (provides ?? '').split(',')) {
      const v = virtual.trim().replace(/\s*\(.*\)$/, '');
      if (v && !providers.has(v)) providers.set(v, name);
    }
  }
  const seen = new Set<string>();
  const todo = [...roots];
  while (todo.length > 0) {
    const pkg = todo.pop()!;
    if (seen.has(pkg) || !installed.has(pkg)) continue;
    seen.add(pkg);
    for (const group of installed.get(pkg)!.split(',')) {
      const alternatives = group.split('|').map((alt) => alt.trim().replace(/\s*\(.*\)$/, '').replace(/:any$/, '')).filter(Boolean);
      const choice = alternatives.find((alt) => installed.has(alt)) ?? alternatives.map((alt) => providers.get(alt)).find((p) => p !== undefined);
      if (choice) todo.push(choice);
    }
  }
  return [...seen].sort();
}
