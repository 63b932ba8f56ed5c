import { promises as fs, Stats } from 'node:fs';
import * as path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { extractLayer } from '../../../archive/tar/extract';
import { packDirectory } from '../../../archive/tar/pack';
import { defineCommand, StatusError } from '../../command';
import type { EngineClient } from '../../../client/engine-client';
import { ClientError } from '../../../client/errors';
import type { CliContext } from '../../context';
import { humanSize } from '../../output/units';
import { isGoDir, isGoSymlink, planArchiveCopy, rebaseEntryName, splitCpArg, splitPathDirEntry } from './cp-paths';

/** Streams a tar, renaming entries (and hardlink targets) from → to. */
function rebaseTar(source: Readable, from: string, to: string): Readable {
  const extract = tarStream.extract();
  const pack = tarStream.pack();
  extract.on('entry', (header, stream, next) => {
    header.name = rebaseEntryName(header.name, from, to);
    if (header.type === 'link' && header.linkname) header.linkname = rebaseEntryName(header.linkname, from, to);
    stream.pipe(pack.entry(header, next));
  });
  extract.on('finish', () => pack.finalize());
  extract.on('error', (err) => pack.destroy(err));
  source.on('error', (err) => extract.destroy(err));
  source.pipe(extract);
  return pack as unknown as Readable;
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fs.stat(p);
  } catch {
    return undefined;
  }
}

function report(ctx: CliContext, quiet: boolean, bytes: number, to: string): void {
  if (!quiet && ctx.stderr.isTTY) ctx.err(`Successfully copied ${humanSize(bytes, 3)} to ${to}\n`);
}

async function copyFromContainer(ctx: CliContext, client: EngineClient, container: string, srcPath: string, dstPath: string, followLink: boolean, quiet: boolean): Promise<void> {
  let resolvedSrc = srcPath;
  let rebaseName: string | undefined;
  if (followLink) {
    const stat = await client.containerStatPath(container, srcPath);
    if (isGoSymlink(stat.mode)) {
      rebaseName = splitPathDirEntry(srcPath).base;
      resolvedSrc = stat.linkTarget.startsWith('/') ? stat.linkTarget : path.posix.join(path.posix.dirname(srcPath), stat.linkTarget);
    }
  }
  const { stat, tar } = await client.containerArchiveGet(container, resolvedSrc);
  if (dstPath === '-') {
    await pipeline(tar, ctx.stdout, { end: false });
    return;
  }
  const dstStat = await lstatOrUndefined(dstPath);
  if (!dstStat) {
    const parent = path.dirname(path.resolve(dstPath));
    const parentStat = await lstatOrUndefined(parent);
    if (!parentStat || !parentStat.isDirectory()) {
      tar.destroy();
      throw new StatusError(1, `Error: no such directory: ${parent}`);
    }
  }
  const plan = planArchiveCopy({ path: srcPath, isDir: isGoDir(stat.mode), rebaseName }, { path: dstPath, exists: dstStat !== undefined, isDir: dstStat?.isDirectory() ?? false });
  if (!plan.ok) {
    tar.destroy();
    throw new StatusError(1, `Error: ${plan.error}: ${dstPath}`);
  }
  const content = plan.rebase ? rebaseTar(tar, plan.rebase.from, plan.rebase.to) : tar;
  const dest = path.resolve(plan.dir);
  const { size } = await extractLayer(content, dest, { whiteouts: 'none', noOverwriteDirNonDir: true });
  report(ctx, quiet, size, dstPath);
}

async function copyToContainer(ctx: CliContext, client: EngineClient, srcPath: string, container: string, dstPath: string, followLink: boolean, archive: boolean, quiet: boolean): Promise<void> {
  let dstExists = false;
  let dstIsDir = false;
  try {
    const stat = await client.containerStatPath(container, dstPath);
    dstExists = true;
    dstIsDir = isGoDir(stat.mode);
    if (isGoSymlink(stat.mode)) {
      const target = stat.linkTarget.startsWith('/') ? stat.linkTarget : path.posix.join(path.posix.dirname(dstPath), stat.linkTarget);
      const followed = await client.containerStatPath(container, target).catch(() => undefined);
      if (followed) {
        dstIsDir = isGoDir(followed.mode);
        if (dstIsDir) dstPath = target;
      }
    }
  } catch (err: unknown) {
    if (!(err instanceof ClientError) || err.statusCode !== 404 || /container/i.test(err.message)) throw err;
  }
  if (srcPath === '-') {
    if (!dstIsDir) throw new StatusError(1, `destination "${container}:${dstPath}" must be a directory`);
    await client.containerArchivePut(container, dstPath, ctx.stdin, { copyUIDGID: archive });
    return;
  }
  const srcStat = await (followLink ? fs.stat(srcPath) : fs.lstat(srcPath)).catch(() => {
    throw new StatusError(1, `lstat ${path.resolve(srcPath)}: no such file or directory`);
  });
  const plan = planArchiveCopy({ path: srcPath, isDir: srcStat.isDirectory() }, { path: dstPath, exists: dstExists, isDir: dstIsDir });
  if (!plan.ok) throw new StatusError(1, `Error: ${plan.error}: ${container}:${dstPath}`);
  const rebaseName = plan.rebase ? plan.rebase.to : splitPathDirEntry(srcPath).base;
  const sourceDir = splitPathDirEntry(srcPath).base === '.' ? srcPath : path.resolve(srcPath);
  let bytes = 0;
  const counter = new PassThrough();
  counter.on('data', (chunk: Buffer) => (bytes += chunk.length));
  const tar = packDirectory(path.resolve(sourceDir), { rebaseName });
  tar.on('error', (err: Error) => counter.destroy(err));
  tar.pipe(counter);
  await client.containerArchivePut(container, plan.dir, counter, { copyUIDGID: archive });
  report(ctx, quiet, bytes, `${container}:${dstPath}`);
}

export default defineCommand({
  usage: 'cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  description: 'Copy files/folders between a container and the local filesystem',
  minArgs: 2,
  maxArgs: 2,
  flags: {
    archive: { kind: 'bool', short: 'a', description: 'Archive mode (copy all uid/gid information)' },
    'follow-link': { kind: 'bool', short: 'L', description: 'Always follow symbol link in SRC_PATH' },
    quiet: { kind: 'bool', short: 'q', description: 'Suppress progress output during copy' },
  },
  async run(ctx, flags, args) {
    const src = splitCpArg(args[0]!);
    const dst = splitCpArg(args[1]!);
    if (src.container !== undefined && dst.container !== undefined) throw new StatusError(1, 'copying between containers is not supported');
    if (src.container === undefined && dst.container === undefined) throw new StatusError(1, 'must specify at least one container source');
    if (src.container === '' || dst.container === '') throw new StatusError(1, 'must specify at least one container source');
    const client = await ctx.client();
    if (src.container !== undefined) {
      if (src.path === '') throw new StatusError(1, 'source path cannot be empty');
      return copyFromContainer(ctx, client, src.container, src.path, dst.path, flags['follow-link'], flags.quiet);
    }
    if (dst.path === '') throw new StatusError(1, 'destination path cannot be empty');
    return copyToContainer(ctx, client, src.path, dst.container!, dst.path, flags['follow-link'], flags.archive, flags.quiet);
  },
});
