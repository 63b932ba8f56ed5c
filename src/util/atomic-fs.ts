import { closeSync, existsSync, fsync as fsyncFd, promises as fs, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { isENOENT } from '../errors';

export interface AtomicWriteOptions {
  /**
   * fsync the file and its directory (default true), so the new content survives a power
   * loss. Pass false only for files that are regenerated before every use (a container's
   * /etc/hosts, its bundle): readers still never see a torn file, and a kill -9 of the
   * daemon leaves the old content or the new one; only a machine crash can lose the write.
   * `'contents'`: the file is fsynced but not its directory, so a machine crash leaves the old
   * content or the new one, whole (never an empty or torn file where the rename reached the
   * disk before the data), but may lose the write: for records whose loss is repaired at start.
   */
  durable?: boolean | 'contents';
}

const fsyncAsync = promisify(fsyncFd);

/**
 * Up to this size the open, write and close (and the rename to a new name) are synchronous: a
 * few microseconds each for a small file in the page cache, where a round trip through libuv's
 * thread pool costs ~0.3 ms (a container's run makes a dozen such writes in a row). The fsyncs,
 * which wait for the disk, and a rename over an existing file go to the pool.
 */
const SYNC_WRITE_MAX = 64 * 1024;

/**
 * Crash-consistent file replacement: write a temp file in the same directory, fsync it,
 * rename it over the target, fsync the directory. A kill -9 at any instant leaves either
 * the old content or the new one, never a torn file.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644, options: AtomicWriteOptions = {}): Promise<void> {
  const durable = options.durable !== false;
  const syncDirectory = durable && options.durable !== 'contents';
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.tmp-${path.basename(file)}-${randomBytes(6).toString('hex')}`);
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  if (bytes.length <= SYNC_WRITE_MAX) await writeTempSync(tmp, bytes, mode, durable);
  else await writeTempAsync(tmp, bytes, mode, durable);
  try {
    // A rename over an existing file makes ext4 (auto_da_alloc) start writing the new data
    // out first, ~1 ms here: that one goes to the pool, a rename to a new name is microseconds.
    if (existsSync(file)) await fs.rename(tmp, file);
    else renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  if (syncDirectory) await fsyncDir(dir);
}

/** The temp file written and closed (fsynced when durable) synchronously; only the fsync goes to the pool. A failure removes it. */
async function writeTempSync(tmp: string, bytes: Uint8Array, mode: number, durable: boolean): Promise<void> {
  const fd = openSync(tmp, 'w', mode);
  try {
    for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written, bytes.length - written);
    if (durable) await fsyncAsync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
}

/** The same through the thread pool, for a large file. */
async function writeTempAsync(tmp: string, bytes: Uint8Array, mode: number, durable: boolean): Promise<void> {
  const handle = await fs.open(tmp, 'w', mode);
  try {
    await handle.writeFile(bytes);
    if (durable) await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
}

export async function writeJsonAtomic(file: string, value: unknown, mode = 0o644, options: AtomicWriteOptions = {}): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, null, 1) + '\n', mode, options);
}

/** Reads JSON, or returns undefined when the file does not exist. */
export async function readJsonIfExists<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (err) {
    if (isENOENT(err)) return undefined;
    throw err;
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Removes stale `.tmp-*` files left by a crash between write and rename. */
export async function removeStaleTempFiles(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if (isENOENT(err)) return;
    throw err;
  }
  await Promise.all(names.filter((n) => n.startsWith('.tmp-')).map((n) => fs.rm(path.join(dir, n), { force: true, recursive: true })));
}
