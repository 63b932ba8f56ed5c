import { promises as fs, writeSync } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { fsyncDir, removeStaleTempFiles, writeFileAtomic } from '../util/atomic-fs';
import { failedPrecondition, isENOENT } from '../errors';
import { Mutex } from '../util/mutex';

/**
 * An append-only JSON journal of key → value records: the crash-safe storage under the
 * metadata stores. The file is a header line, then one line per batch of changes:
 *
 *   {"berth":"journal","kind":"images","schemaVersion":1}
 *   <sha256 of the JSON, 16 hex> {"ops":[["p","image/sha256:…",{…}],["d","ref/…"]]}
 *
 * A batch is one write(2) of one line followed by fdatasync, so it is all-or-nothing: a
 * kill -9 or power cut mid-append leaves a torn last line, which open() drops (truncating
 * the file back to the last whole batch). A bad line anywhere else is corruption and open()
 * refuses to go on, as it does for a header naming another kind or an unknown schema
 * version: a store never silently starts empty. Once dead lines outnumber live records the
 * journal is compacted: the live records are written to a temp file that is renamed over it.
 */
export type JournalOp = ['p', string, unknown] | ['d', string];

export interface JournalHeader {
  berth: 'journal';
  kind: string;
  schemaVersion: number;
}

export interface JournalOptions {
  /** What the records are ("images", "containers", "leases"): a file of another kind is refused. */
  kind: string;
  /** The schema version this code writes; a file with another version is refused, naming it. */
  schemaVersion: number;
  /** Skip fdatasync after appends (tests of bulk data, never the daemon). */
  durable?: boolean;
  /** Compact when dead lines exceed max(minDeadLines, live records). */
  minDeadLines?: number;
}

const CHECKSUM_CHARS = 16;

function checksum(json: string): string {
  return createHash('sha256').update(json).digest('hex').slice(0, CHECKSUM_CHARS);
}

function encodeLine(ops: JournalOp[]): string {
  const json = JSON.stringify({ ops });
  return `${checksum(json)} ${json}\n`;
}

export class Journal {
  private handle: fs.FileHandle | undefined;
  private readonly mutex = new Mutex();
  /** Lines after the header that no longer hold the latest value of a live record. */
  private deadLines = 0;
  private lines = 0;
  /** Bytes of whole batches in the file. */
  private size = 0;

  private constructor(
    readonly file: string,
    private readonly options: JournalOptions,
    readonly records: Map<string, unknown>,
  ) {}

  /**
   * Opens (or creates) the journal and replays it into `records`. When the file does not
   * exist and `seed` is given, its records (a migration from an older layout) become the
   * journal's first content, written atomically.
   */
  static async open(file: string, options: JournalOptions, seed?: () => Promise<Map<string, unknown> | undefined>): Promise<Journal> {
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await removeStaleTempFiles(path.dirname(file));
    let text: string | undefined;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if (!isENOENT(err)) throw err;
    }
    if (text === undefined) {
      const journal = new Journal(file, options, (await seed?.()) ?? new Map());
      await journal.rewrite();
      return journal;
    }
    const journal = new Journal(file, options, new Map());
    await journal.replay(text);
    return journal;
  }

  private async replay(text: string): Promise<void> {
    const name = path.basename(this.file);
    const headerEnd = text.indexOf('\n');
    if (headerEnd === -1) throw failedPrecondition(`metadata store ${this.file} has no header; refusing to start`);
    let header: JournalHeader;
    try {
      header = JSON.parse(text.slice(0, headerEnd)) as JournalHeader;
    } catch {
      throw failedPrecondition(`metadata store ${this.file} has an unreadable header; refusing to start`);
    }
    if (header.berth !== 'journal' || header.kind !== this.options.kind) {
      throw failedPrecondition(`metadata store ${this.file} is not a ${this.options.kind} journal; refusing to start`);
    }
    if (header.schemaVersion !== this.options.schemaVersion) {
      throw failedPrecondition(
        `metadata store ${this.file} has schema version ${String(header.schemaVersion)}, which this berth does not know (it knows ${this.options.schemaVersion}); refusing to start`,
      );
    }
    let offset = headerEnd + 1;
    let lineNo = 1;
    let tornAt: number | undefined;
    // Which line last wrote each key, to count dead lines for compaction.
    const writer = new Map<string, number>();
    while (offset < text.length) {
      lineNo++;
      const end = text.indexOf('\n', offset);
      const line = end === -1 ? text.slice(offset) : text.slice(offset, end);
      const ops = end === -1 ? undefined : decodeLine(line);
      if (ops === undefined) {
        const isLast = end === -1 || end === text.length - 1;
        if (!isLast) throw failedPrecondition(`metadata store ${name} is corrupt at line ${lineNo}; refusing to start`);
        tornAt = offset;
        break;
      }
      for (const op of ops) {
        if (op[0] === 'p') {
          this.records.set(op[1], op[2]);
          writer.set(op[1], lineNo);
        } else {
          this.records.delete(op[1]);
          writer.delete(op[1]);
        }
      }
      this.lines++;
      offset = end + 1;
    }
    const liveLines = new Set(writer.values());
    this.deadLines = this.lines - liveLines.size;
    if (tornAt !== undefined) {
      // Byte offset of the torn line: the text is UTF-8, so measure the prefix.
      await fs.truncate(this.file, Buffer.byteLength(text.slice(0, tornAt)));
    }
    this.size = tornAt === undefined ? Buffer.byteLength(text) : Buffer.byteLength(text.slice(0, tornAt));
    if (this.needsCompaction()) await this.rewrite();
  }

  /**
   * Appends one batch durably (durable: false skips the fdatasync, for records a reboot
   * makes moot); the in-memory records change only once it is written.
   */
  append(ops: JournalOp[], options: { durable?: boolean } = {}): Promise<void> {
    if (ops.length === 0) return Promise.resolve();
    return this.mutex.run(async () => {
      const handle = await this.openForAppend();
      const line = Buffer.from(encodeLine(ops));
      try {
        // A short write (the disk filled up mid-line) does not throw: write the rest, so the
        // error that stopped it surfaces and the partial line is cut off below.
        for (let written = 0; written < line.length; ) {
          // Synchronous: one small line into the page cache takes microseconds, where a
          // round trip through libuv's thread pool costs ~0.3 ms (the fdatasync still goes there).
          const bytesWritten = writeSync(handle.fd, line, written, line.length - written);
          if (bytesWritten === 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
          written += bytesWritten;
        }
        if (this.options.durable !== false && options.durable !== false) await handle.datasync();
      } catch (err) {
        // A partial line (ENOSPC, EIO) must not stay in the middle of the file: later
        // appends would make it look like corruption instead of a torn tail.
        await handle.truncate(this.size).catch(() => undefined);
        throw err;
      }
      this.size += line.length;
      for (const op of ops) {
        if (this.records.has(op[1]) || op[0] === 'd') this.deadLines++;
        if (op[0] === 'p') this.records.set(op[1], op[2]);
        else this.records.delete(op[1]);
      }
      this.lines++;
      if (this.needsCompaction()) await this.rewriteLocked();
    });
  }

  /** Writes the live records to a new file renamed over the journal. */
  compact(): Promise<void> {
    return this.mutex.run(() => this.rewriteLocked());
  }

  async close(): Promise<void> {
    await this.mutex.run(async () => {
      await this.handle?.close();
      this.handle = undefined;
    });
  }

  private needsCompaction(): boolean {
    return this.deadLines > Math.max(this.options.minDeadLines ?? 1000, this.records.size);
  }

  private rewrite(): Promise<void> {
    return this.mutex.run(() => this.rewriteLocked());
  }

  private async rewriteLocked(): Promise<void> {
    const header: JournalHeader = { berth: 'journal', kind: this.options.kind, schemaVersion: this.options.schemaVersion };
    const parts = [JSON.stringify(header) + '\n'];
    let size = Buffer.byteLength(parts[0]);
    // Batches of records per line keep the file small and open() fast.
    let batch: JournalOp[] = [];
    let lines = 0;
    for (const [key, value] of this.records) {
      batch.push(['p', key, value]);
      if (batch.length === 64) {
        parts.push(encodeLine(batch));
        size += Buffer.byteLength(parts[parts.length - 1]);
        lines++;
        batch = [];
      }
    }
    if (batch.length > 0) {
      parts.push(encodeLine(batch));
      size += Buffer.byteLength(parts[parts.length - 1]);
      lines++;
    }
    await this.handle?.close();
    this.handle = undefined;
    await writeFileAtomic(this.file, parts.join(''), 0o600);
    this.lines = lines;
    this.size = size;
    this.deadLines = 0;
  }

  private async openForAppend(): Promise<fs.FileHandle> {
    if (!this.handle) {
      this.handle = await fs.open(this.file, 'a', 0o600);
      await fsyncDir(path.dirname(this.file));
    }
    return this.handle;
  }
}

function decodeLine(line: string): JournalOp[] | undefined {
  const space = line.indexOf(' ');
  if (space !== CHECKSUM_CHARS) return undefined;
  const json = line.slice(space + 1);
  if (checksum(json) !== line.slice(0, space)) return undefined;
  try {
    const parsed = JSON.parse(json) as { ops?: unknown };
    return Array.isArray(parsed.ops) ? (parsed.ops as JournalOp[]) : undefined;
  } catch {
    return undefined;
  }
}
