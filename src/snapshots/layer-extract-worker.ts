import { Readable, Transform } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { extractLayer } from '../archive/tar/extract';
import { decompressStream } from '../images/compression';
import { PoolDigester } from '../util/pool-digester';
import { errorKind, messageOf } from '../errors';
import type { ExtractJob, FromWorker, ToWorker } from './layer-extractor';

/**
 * The worker thread of layer-extractor.ts: takes one layer's bytes at a time from the main
 * thread, decompresses them (when asked), hashes the tar (its diff ID) and extracts it, all
 * on this thread, so a pull's gunzip, SHA-256, tar parsing, file writes and their garbage
 * stay off the daemon's event loop.
 */
const port = parentPort;
if (!port) throw new Error('layer-extract-worker runs as a worker thread only');

/** Bytes of a layer's tar waiting for their hash before the extraction waits for it. */
const HASH_QUEUE_BYTES = 8 << 20;

/** The current job's input: chunks as they come, acknowledged once read (the sender's back-pressure). */
class Inbox {
  constructor(readonly job: number) {
    this.dest = new Promise<string>((resolve, reject) => {
      this.setDest = resolve;
      this.failDest = reject;
    });
    this.dest.catch(() => undefined); // awaited once the tar's first bytes are in
  }

  /** Where to extract: known once the main thread's snapshot is prepared. */
  readonly dest: Promise<string>;
  setDest!: (dest: string) => void;
  private failDest!: (err: Error) => void;

  private readonly queue: Buffer[] = [];
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  push(chunk: Buffer): void {
    this.queue.push(chunk);
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  fail(err: Error): void {
    this.failure = err;
    this.failDest(err);
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *chunks(): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.failure) throw this.failure;
      const chunk = this.queue.shift();
      if (chunk) {
        yield chunk;
        send({ job: this.job, type: 'ack', bytes: chunk.length });
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

function send(message: FromWorker): void {
  port!.postMessage(message);
}

/** The jobs in progress by id: the main thread may run several layers' extractions here at once. */
const inboxes = new Map<number, Inbox>();

async function run(job: ExtractJob, box: Inbox): Promise<void> {
  try {
    let tar: Readable = Readable.from(box.chunks(), { objectMode: false, highWaterMark: 1 << 20 });
    if (job.decompress) tar = (await decompressStream(tar)).stream;
    // The diff ID is hashed on the thread pool beside this thread's parsing and writing.
    const digester = new PoolDigester();
    const hashing = new Transform({
      transform(chunk: Buffer, _enc, done) {
        digester.update(chunk);
        digester.drain(HASH_QUEUE_BYTES).then(() => done(null, chunk), done);
      },
    });
    tar.on('error', (err) => hashing.destroy(err));
    const dest = await box.dest;
    await extractLayer(tar.pipe(hashing), dest, { whiteouts: job.whiteouts });
    send({ job: box.job, type: 'done', diffId: await digester.digest(), size: digester.size });
  } catch (err) {
    send({ job: box.job, type: 'error', message: messageOf(err), kind: errorKind(err), code: (err as NodeJS.ErrnoException).code });
  } finally {
    inboxes.delete(box.job);
  }
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'start': {
      const box = new Inbox(message.id);
      inboxes.set(message.id, box);
      void run(message.job, box);
      break;
    }
    case 'dest':
      inboxes.get(message.id)?.setDest(message.dest);
      break;
    case 'data': {
      // A batch of a pull's network chunks is joined here, off the daemon's thread: the
      // decompressor then gets ~1 MB at a time (each of its calls is a trip through the pool).
      const chunks = message.chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength));
      inboxes.get(message.id)?.push(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      break;
    }
    case 'end':
      inboxes.get(message.id)?.end();
      break;
    case 'abort':
      inboxes.get(message.id)?.fail(new Error(message.message));
      break;
  }
});
