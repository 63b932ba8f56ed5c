import { PassThrough, Readable } from 'node:stream';
import type { ContentStore, Labels } from '../../../content/types';
import type { Descriptor } from '../../../images/models';
import { errorKind, invalidArgument, messageOf, unavailable } from '../../../errors';
import { handOver } from '../../../snapshots/layer-extractor';

/**
 * Bytes fed to a consumer as they arrive (a layer's unpacker), with its back-pressure: an
 * object stream of batches (Buffer[], each a batch the ingest has written), so the
 * network's chunks reach the unpacker's worker as they are, never joined into one buffer
 * on the daemon's thread. A consumer that fails stops receiving, but the download goes on
 * to its digest check: a corrupt blob is reported as such (as dockerd, which verifies
 * before it extracts), not as the bad tar it made.
 */
export class TeeSink {
  /** A batch or two waits here; the extractor keeps its own few MB in flight. */
  readonly stream = new PassThrough({ objectMode: true, highWaterMark: 2 });

  async write(batch: Buffer[]): Promise<void> {
    if (this.stream.destroyed || this.stream.write(batch)) return;
    // Both listeners go once either fires (a race of once() calls would leave one per wait).
    const stream = this.stream;
    await new Promise<void>((resolve) => {
      const done = () => {
        stream.off('drain', done);
        stream.off('close', done);
        resolve();
      };
      stream.on('drain', done);
      stream.on('close', done);
    });
  }

  end(): void {
    this.stream.end();
  }

  fail(err: unknown): void {
    this.stream.destroy(err instanceof Error ? err : new Error(messageOf(err)));
  }
}

export interface BlobTransferOptions {
  content: ContentStore;
  /** Opens the blob from `offset` on; the answer tells where its stream really starts. */
  open(offset: number): Promise<{ stream: Readable; offset: number }>;
  desc: Descriptor;
  labels?: Labels;
  /** Called once with the offset the transfer starts at; a sink returned gets every byte from 0 (only asked for when that offset is 0). */
  tee?: () => TeeSink | undefined;
  /** Bytes of the blob received so far (resumed bytes included). */
  onProgress?: (received: number) => void;
  signal: AbortSignal;
  /** Attempts per transfer (network failures only); default 5. */
  attempts?: number;
  /** First back-off delay; doubles each retry. Default 200 ms. */
  retryDelayMs?: number;
  /** The registry, for messages. */
  registry: string;
}

/** The named ingest of a pull of `digest`: an interrupted pull's data stays there and the next one resumes it. */
export function pullIngestRef(digest: string): string {
  return `pull-${digest}`;
}

/**
 * Downloads one blob into the content store: streamed into a named ingest (so a retry, or
 * the next pull after an interruption, resumes with a Range request from its offset),
 * verified against the descriptor's digest and size while written, and committed; nothing
 * half-written becomes visible. A failure of the network is retried with back-off; a blob
 * whose content does not match its digest is dropped (ingest and all) and fails the pull.
 * Returns whether the sink (if any) saw the whole blob.
 */
export async function transferBlob(opts: BlobTransferOptions): Promise<{ teed: boolean }> {
  const { content, desc, signal } = opts;
  const writer = await content.writer({ ref: pullIngestRef(desc.digest), total: desc.size, expected: desc.digest });
  const sink = writer.status().offset === 0 ? opts.tee?.() : undefined;
  const attempts = opts.attempts ?? 5;
  let delay = opts.retryDelayMs ?? 200;
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await receive(opts, writer, sink);
        break;
      } catch (err) {
        if (signal.aborted || !retryable(err) || attempt >= attempts) throw err;
        await sleep(delay, signal);
        delay *= 2;
      }
    }
  } catch (err) {
    // Kept for a later pull to resume (GC removes it once stale).
    await writer.close().catch(() => undefined);
    const final = signal.aborted
      ? unavailable(`pull of ${desc.digest} from ${opts.registry} cancelled`, err)
      : errorKind(err) === undefined
        ? unavailable(`error pulling blob ${desc.digest} from ${opts.registry}: ${messageOf(err)}`, err)
        : err;
    sink?.fail(final);
    throw final;
  }
  try {
    await writer.commit({ digest: desc.digest, size: desc.size, labels: opts.labels });
  } catch (err) {
    // The store dropped the ingest: the next attempt starts over.
    const final = errorKind(err) === 'InvalidArgument' ? invalidArgument(`filesystem layer verification failed for digest ${desc.digest}`, err) : err;
    sink?.fail(final);
    throw final;
  }
  sink?.end();
  return { teed: sink !== undefined };
}

const BATCH_BYTES = 1 << 20;
const BATCH_MAX_AGE_MS = 50;

/** Local failures (disk, verification, refusal) are final; the network's are retried. */
class LocalError extends Error {}

function retryable(err: unknown): boolean {
  if (err instanceof LocalError) return false;
  const kind = errorKind(err);
  return kind === undefined || kind === 'Unavailable' || kind === 'Internal';
}

async function receive(opts: BlobTransferOptions, writer: Awaited<ReturnType<ContentStore['writer']>>, sink: TeeSink | undefined): Promise<void> {
  const { desc } = opts;
  let offset = writer.status().offset;
  if (offset >= desc.size) return;
  const opened = await opts.open(offset);
  // A registry that ignores Range sends the blob from its start: skip what the ingest has.
  let skip = offset - opened.offset;
  if (skip < 0) throw unavailable(`${opts.registry} answered blob ${desc.digest} from offset ${opened.offset}, after the ${offset} bytes asked for`);
  const onAbort = () => opened.stream.destroy(new Error('aborted'));
  opts.signal.addEventListener('abort', onAbort, { once: true });
  // The network's small chunks go on in batches: far fewer file writes, decompressor calls
  // and tar writes (each a trip through libuv's thread pool) per layer.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let pendingSince = 0;
  const flush = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const batch = pending;
    const length = pendingBytes; // a chunk handed over is empty once moved
    pending = [];
    pendingBytes = 0;
    try {
      // One write (and hash, on the thread pool) for the batch, its chunks as they came.
      await writer.writev(batch);
      // Written into the ingest: the unpacker may now take the chunks' memory itself (moved
      // to its worker thread, not copied): each is a buffer of its own (node's HTTP parser
      // copies every body chunk out of the socket's read).
      if (sink) {
        for (const chunk of batch) handOver(chunk);
        await sink.write(batch);
      }
    } catch (err) {
      throw new LocalError(messageOf(err), { cause: err });
    }
    offset += length;
    opts.onProgress?.(offset);
  };
  try {
    for await (const chunk0 of chunksOf(opened.stream, BATCH_BYTES)) {
      let chunk = chunk0;
      if (skip > 0) {
        if (chunk.length <= skip) {
          skip -= chunk.length;
          continue;
        }
        chunk = chunk.subarray(skip);
        skip = 0;
      }
      if (offset + pendingBytes + chunk.length > desc.size) throw new LocalError(`blob ${desc.digest} from ${opts.registry} is larger than its descriptor's ${desc.size} bytes`);
      if (pendingBytes === 0) pendingSince = Date.now();
      pending.push(chunk);
      pendingBytes += chunk.length;
      // A slow registry's bytes are not held back long: they are what a resume starts after.
      if (pendingBytes >= BATCH_BYTES || Date.now() - pendingSince >= BATCH_MAX_AGE_MS) await flush();
    }
  } catch (err) {
    // What arrived before a network failure is good: keep it, so the retry starts after it.
    if (!(err instanceof LocalError)) await flush();
    throw err;
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
  }
  await flush();
  if (offset < desc.size) throw unavailable(`blob ${desc.digest} from ${opts.registry} ended after ${offset} of ${desc.size} bytes`);
}

/**
 * A stream's chunks one by one, as its 'data' events bring them. Its async iterator would
 * read() whatever is buffered as one joined copy (a slow consumer makes many: a fresh
 * buffer and a memcpy per batch on the event loop); here up to `pauseAt` bytes wait,
 * unjoined, with the stream paused until they are all taken. A stream that closes before
 * its end is an error.
 */
export async function* chunksOf(stream: Readable, pauseAt: number): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (chunk: Buffer) => {
    queue.push(chunk);
    queued += chunk.length;
    if (queued >= pauseAt) stream.pause();
    notify();
  };
  const onEnd = () => {
    ended = true;
    notify();
  };
  const onError = (err: unknown) => {
    failure ??= err;
    notify();
  };
  const onClose = () => {
    if (!ended) failure ??= Object.assign(new Error('premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
    notify();
  };
  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.on('error', onError);
  stream.on('close', onClose);
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        queued -= chunk.length;
        yield chunk;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (ended) return;
      // Resumed only once all that waited is taken: a pause and resume per chunk would each
      // be a trip through the socket's epoll registration.
      if (stream.isPaused()) stream.resume();
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.off('error', onError);
    stream.off('close', onClose);
    // A late error of a stream given up on (a socket reset after the destroy) is nobody's.
    stream.on('error', () => undefined);
    if (!ended) stream.destroy();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

