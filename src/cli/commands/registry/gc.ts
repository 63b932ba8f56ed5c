import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { defineCommand, StatusError } from '../../command';
import { parseGoDuration } from '../../output/units';
import { collectGarbage, DEFAULT_KEEP_RECENT_MS, DEFAULT_UPLOAD_EXPIRY_MS } from '../../../registry/server/gc';
import { FilesystemDriver } from '../../../registry/server/storage/fs-driver';
import { loadServeConfigFile } from '../../../registry/server/serve-config';
import type { StorageDriver } from '../../../registry/server/storage/driver';

/**
 * `berth registry gc --root DIR [--dry-run] [--delete-untagged]`: removes blobs no manifest references from a
 * registry's storage (see src/registry/server/gc.ts for what is kept and why an upload in
 * progress is never raced). Prints each removal, then a summary. Two collectors on one root
 * exclude each other with `<root>/gc.lock`.
 */
export default defineCommand({
  usage: 'registry gc [OPTIONS]',
  description: 'Remove unreferenced blobs from a registry\'s storage',
  maxArgs: 0,
  flags: {
    root: { kind: 'string', description: 'Storage root folder of the registry', valueName: 'dir' },
    config: { kind: 'string', description: 'The registry\'s serve config file: its root and storage (S3 included); --root wins', valueName: 'file' },
    'dry-run': { kind: 'bool', short: 'n', description: 'Print what would be removed, remove nothing' },
    'delete-untagged': { kind: 'bool', short: 'm', description: 'Delete manifests no tag reaches, then their blobs' },
    'keep-recent': { kind: 'string', description: 'Keep unreferenced blobs written within this duration (default 1h)', valueName: 'duration' },
    'upload-expiry': { kind: 'string', description: 'Remove uploads idle for longer than this (default 168h)', valueName: 'duration' },
  },
  async run(ctx, flags) {
    const config = flags.config ? await loadServeConfigFile(flags.config) : undefined;
    const rootFlag = flags.root || config?.root;
    if (!rootFlag) throw new StatusError(1, 'a storage root is required: --root DIR');
    const root = path.resolve(rootFlag);
    const keepRecentMs = duration('--keep-recent', flags['keep-recent'], DEFAULT_KEEP_RECENT_MS);
    const uploadExpiryMs = duration('--upload-expiry', flags['upload-expiry'], DEFAULT_UPLOAD_EXPIRY_MS);
    let driver: StorageDriver;
    let closeDriver = () => {};
    if (config?.storage?.s3) {
      // The lock file stays in the local root: run gc from one host.
      await fs.mkdir(root, { recursive: true, mode: 0o700 });
      const s3 = new (require('../../../registry/server/storage/s3-driver') as typeof import('../../../registry/server/storage/s3-driver')).S3Driver(config.storage.s3);
      closeDriver = () => s3.close();
      driver = s3;
    } else {
      const st = await fs.stat(path.join(root, 'metadata')).catch(() => undefined);
      if (!st?.isDirectory()) throw new StatusError(1, `${root} is not a registry storage root (no metadata folder)`);
      driver = new FilesystemDriver(root);
    }
    await driver.init();
    const release = await takeLock(path.join(root, 'gc.lock'));
    try {
      const dryRun = flags['dry-run'];
      const deleteUntagged = flags['delete-untagged'];
      const report = await collectGarbage(driver, { dryRun, deleteUntagged, keepRecentMs, uploadExpiryMs, onRemove: (line) => ctx.out(line + '\n') });
      const kept = report.keptRecent + report.keptUploading;
      ctx.out(
        `${report.repositories} repositories, ${report.marked} referenced blobs; ` +
        `${dryRun ? 'would remove' : 'removed'} ${deleteUntagged ? `${report.removedManifests.length} untagged manifests, ` : ''}${report.removed.length} blobs (${report.removedBytes} bytes) and ${report.removedUploads.length} uploads` +
        (kept > 0 ? `; kept ${kept} unreferenced blobs (${report.keptRecent} written recently, ${report.keptUploading} in repositories with uploads in progress)` : '') +
        (report.keptUntagged > 0 ? `; kept ${report.keptUntagged} untagged manifests (pushed recently or in repositories with uploads in progress)` : '') +
        '\n',
      );
    } finally {
      await release();
      closeDriver();
    }
  },
});

function duration(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = parseGoDuration(value);
  if (ms === undefined || ms < 0) throw new StatusError(1, `invalid ${flag} "${value}": expected a duration such as 30m or 1h`);
  return ms;
}

/** An exclusive lock file holding our pid; one left by a process that is gone is taken over. */
async function takeLock(file: string): Promise<() => Promise<void>> {
  for (let tries = 0; tries < 2; tries++) {
    try {
      await fs.writeFile(file, `${process.pid}\n`, { flag: 'wx' });
      return () => fs.rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) throw new StatusError(1, `another gc (pid ${pid}) is running on this root (${file})`);
      await fs.rm(file, { force: true });
    }
  }
  throw new StatusError(1, `cannot take the gc lock ${file}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
