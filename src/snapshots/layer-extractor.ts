import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { WhiteoutMode } from '../archive/tar/extract';
import type { Digest } from '../util/digest';
import { EngineError, internal, messageOf, type ErrorKind } from '../errors';
import { holdHeapForPull, trimHeap } from '../util/heap-trim';

/**
 * Layer extraction on worker threads (layer-extract-worker.ts): the main thread only hands
 * a layer's bytes over, the worker decompresses, hashes (diff ID) and extracts them. A pull
 * of large layers otherwise spends most of the event loop's time there (gunzip callbacks,
 * SHA-256 of the tar, tar-stream's parsing, one write per chunk) plus the garbage
 * collections its buffers cause, and so serialises what two cores could do side by side.
 * After a pull the worker is kept 30 s (its start-up, ~50-150 ms of CPU, is paid once for a
 * run of pulls such as a compose pull); after other extractions (load, import, commit, the
 * bootstraps) only long enough for the same image's next layer. Then it ends and the heap's
 * free pages go back to the kernel: an idle daemon holds neither (the worker is ~13 MB of RSS,
 * and a pull lets glibc keep up to 64 MB of freed heap: util/heap-trim.ts).
 */

export interface ExtractJob {
  whiteouts: WhiteoutMode;
  /** The bytes may be compressed (gzip, zstd…; recognised by their magic, as docker does). */
  decompress: boolean;
}

export type ToWorker =
  | { type: 'start'; id: number; job: ExtractJob }
  /** The directory to extract into (an active snapshot's upper dir: trusted, made by the snapshotter). */
  | { type: 'dest'; id: number; dest: string }
  /** Chunks in order (their memory moved to the worker). */
  | { type: 'data'; id: number; chunks: Uint8Array[] }
  | { type: 'end'; id: number }
  | { type: 'abort'; id: number; message: string };

export type FromWorker = { job: number } & (
  | { type: 'ack'; bytes: number }
  | { type: 'done'; diffId: Digest; size: number }
  | { type: 'error'; message: string; kind?: ErrorKind; code?: string }
);

/** Bytes posted and not yet read by the worker before the sender waits: a few of a pull's 1 MB batches. */
const MAX_IN_FLIGHT = 8 << 20;
/** How long the idle worker is kept after a pull, for the next layer or pull. */
const IDLE_AFTER_PULL_MS = 30_000;
/** How long it is kept after other extractions: a load's or import's next layer follows at once. */
const IDLE_MS = 250;

const WORKER_FILE = path.join(__dirname, 'layer-extract-worker.js');

/** ArrayBuffers their owner gave up (handOver): posted by transfer, not copied. */
const handedOver = new WeakSet<ArrayBufferLike>();

/**
 * Marks `chunk`'s memory as no longer used by anyone but the stream it is written to next,
 * so an extraction moves it to its worker instead of copying it. Only a chunk that spans
 * its whole ArrayBuffer (not a slice of a pool or of a socket read) qualifies.
 */
export function handOver(chunk: Buffer): void {
  if (chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && chunk.buffer instanceof ArrayBuffer) handedOver.add(chunk.buffer);
}

/**
 * One worker for every extraction at a time: on two cores, the main thread (download,
 * blob digest, ingest writes) and one extraction thread keep both busy, and a pull of
 * several layers pays the worker's start-up (~50-150 ms of module loading) once.
 */
class ExtractorThread {
  private worker: Worker | undefined;
  /** A pull's malloc thresholds, kept while its worker lives (util/heap-trim.ts). */
  private releaseHeap: (() => void) | undefined;
  private active = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private jobs = 0;
  /** A pull used the worker since it started: it is kept the longer time. */
  private pulling = false;

  /** Starts the worker ahead of a pull's first job (while the pull fetches its manifest). */
  warm(): void {
    this.pulling = true;
    this.releaseHeap ??= holdHeapForPull();
    if (this.active === 0) this.armIdle();
    this.get();
  }

  begin(): { worker: Worker; id: number } {
    clearTimeout(this.idleTimer);
    this.active++;
    return { worker: this.get(), id: ++this.jobs };
  }

  end(): void {
    if (--this.active === 0) this.armIdle();
  }

  get running(): boolean {
    return this.worker !== undefined;
  }

  /** The worker failed (crashed or exited): the next job starts a new one. */
  lost(worker: Worker): void {
    if (this.worker === worker) this.worker = undefined;
    void worker.terminate();
  }

  private get(): Worker {
    if (!this.worker) {
      // Its fds are the addon's (openat) closed by fs: untracked, or each close would be a
      // "closed but not opened in unmanaged mode" warning written to the daemon's log.
      const worker = new Worker(WORKER_FILE, { trackUnmanagedFds: false });
      worker.unref();
      // A failure while no job listens (idle) must not be an unhandled 'error' event.
      const forget = () => {
        if (this.worker === worker) this.worker = undefined;
      };
      worker.on('error', forget);
      worker.on('exit', forget);
      worker.setMaxListeners(0); // one set per extraction in flight
      this.worker = worker;
    }
    return this.worker;
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.active > 0) return;
      const ended = this.worker?.terminate() ?? Promise.resolve(0);
      const releaseHeap = this.releaseHeap;
      this.worker = undefined;
      this.releaseHeap = undefined;
      this.pulling = false;
      // Once the thread is gone its heap is free: give it (and a pull's buffers) back.
      void ended.finally(() => (releaseHeap ? releaseHeap() : trimHeap()));
    }, this.pulling ? IDLE_AFTER_PULL_MS : IDLE_MS);
    this.idleTimer.unref();
  }
}

const thread = new ExtractorThread();

/** Whether the extraction worker exists now (an idle daemon has none). */
export function extractionWorkerRunning(): boolean {
  return thread.running;
}

/** Starts the extraction worker now, so a pull's first layer does not wait for it. */
export function warmLayerExtractor(): void {
  thread.warm();
}

/**
 * Extracts the layer `tar` (compressed when `job.decompress`) into `dest` on a worker
 * thread, with the worker's pace as back-pressure. `dest` may still be in the making (a
 * snapshot being prepared): the bytes flow meanwhile, up to the in-flight limit. Resolves
 * with the tar's diff ID and size once every entry is written; a failing `tar` (or `dest`)
 * fails the extraction with its own error, and an extraction that fails stops reading
 * `tar` (destroyed). Either way the worker has stopped writing into `dest` before this
 * settles.
 */
export async function extractInWorker(tar: Readable, dest: string | Promise<string>, job: ExtractJob): Promise<{ diffId: Digest; size: number }> {
  // A stream that failed before this would never end.
  if (tar.errored) throw tar.errored;
  const { worker, id } = thread.begin();
  let inFlight = 0;
  let settled = false;
  let reusable = true;
  let wake: (() => void) | undefined;
  const wakeSender = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  let onMessage!: (message: FromWorker) => void;
  let onError!: (err: Error) => void;
  let onExit!: (code: number) => void;
  const result = new Promise<{ diffId: Digest; size: number }>((resolve, reject) => {
    onMessage = (message) => {
      if (message.job !== id) return;
      if (message.type === 'ack') {
        inFlight -= message.bytes;
        wakeSender();
      } else if (message.type === 'done') resolve({ diffId: message.diffId, size: message.size });
      else reject(workerError(message));
    };
    onError = (err) => {
      reusable = false;
      reject(internal(`layer extraction worker failed: ${messageOf(err)}`, err));
    };
    onExit = (code) => {
      reusable = false;
      reject(internal(`layer extraction worker exited (code ${code})`));
    };
  });
  void result.then(
    () => undefined,
    () => undefined,
  ).finally(() => {
    settled = true;
    wakeSender();
  });
  worker.on('message', onMessage);
  worker.on('error', onError);
  worker.on('exit', onExit);
  let inputError: unknown;
  let destError: unknown;
  try {
    worker.postMessage({ type: 'start', id, job } satisfies ToWorker);
    Promise.resolve(dest).then(
      (dir) => {
        if (!settled) worker.postMessage({ type: 'dest', id, dest: dir } satisfies ToWorker);
      },
      (err: unknown) => {
        destError = err ?? new Error('no destination');
        if (!settled) worker.postMessage({ type: 'abort', id, message: messageOf(err) } satisfies ToWorker);
      },
    );
    try {
      // A byte stream's chunks, or an object stream's batches of them (a pull's TeeSink).
      for await (const raw of tar) {
        if (settled) break; // the worker failed: leaving the loop destroys tar
        const chunks = Array.isArray(raw) ? (raw as Buffer[]) : [raw as Buffer];
        inFlight += post(worker, id, chunks);
        while (inFlight > MAX_IN_FLIGHT && !settled) await new Promise<void>((resolve) => (wake = resolve));
      }
      if (!settled) worker.postMessage({ type: 'end', id } satisfies ToWorker);
    } catch (err) {
      inputError = err;
      if (!settled) worker.postMessage({ type: 'abort', id, message: messageOf(err) } satisfies ToWorker);
    }
    try {
      const extracted = await result;
      if (inputError !== undefined) throw inputError;
      return extracted;
    } catch (err) {
      throw inputError ?? destError ?? err;
    }
  } finally {
    worker.off('message', onMessage);
    worker.off('error', onError);
    worker.off('exit', onExit);
    if (!reusable) thread.lost(worker);
    thread.end();
  }
}

/**
 * Posts chunks in one message: each moved when handed over, else copied into memory of its
 * own and moved. Returns their bytes.
 */
function post(worker: Worker, id: number, chunks: Buffer[]): number {
  const own: Uint8Array[] = [];
  const transfer: ArrayBuffer[] = [];
  let bytes = 0;
  for (const chunk of chunks) {
    if (chunk.length === 0) continue;
    const moved = handedOver.has(chunk.buffer) && !transfer.includes(chunk.buffer as ArrayBuffer) ? chunk : new Uint8Array(chunk);
    own.push(moved);
    transfer.push(moved.buffer as ArrayBuffer);
    bytes += moved.byteLength;
  }
  if (own.length > 0) worker.postMessage({ type: 'data', id, chunks: own } satisfies ToWorker, transfer);
  return bytes;
}

function workerError(message: { message: string; kind?: ErrorKind; code?: string }): Error {
  if (message.kind) return new EngineError(message.kind, message.message);
  return Object.assign(new Error(message.message), message.code ? { code: message.code } : {});
}
