import { spawn } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { internal } from '../errors';

/** Layer and archive compression, recognized by magic bytes (as Docker's DecompressStream does). */
export type Compression = 'none' | 'gzip' | 'zstd' | 'xz' | 'bzip2';

const MAGIC: Array<[Compression, number[]]> = [
  ['gzip', [0x1f, 0x8b, 0x08]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['bzip2', [0x42, 0x5a, 0x68]],
];

export function detectCompression(head: Uint8Array): Compression {
  for (const [kind, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) return kind;
  }
  return 'none';
}

/** Reads the first `n` bytes without consuming them: `stream` replays them, then the rest. */
export async function peek(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    chunks.push(chunk);
    length += chunk.length;
  }
  const head = Buffer.concat(chunks);
  async function* replay(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  return { head, stream: Readable.from(replay(), { objectMode: false }) };
}

/** The decompressed bytes of `input`, whatever its compression; plain data passes through. */
export async function decompressStream(input: Readable): Promise<{ stream: Readable; compression: Compression }> {
  const { head, stream } = await peek(input, 6);
  const compression = detectCompression(head);
  switch (compression) {
    case 'none':
      return { stream, compression };
    case 'gzip': {
      // Output in large chunks: layers are tens of MB, and each chunk is a trip through the thread pool.
      const gunzip = createGunzip({ chunkSize: 1 << 20 });
      stream.on('error', (err) => gunzip.destroy(err));
      return { stream: stream.pipe(gunzip), compression };
    }
    case 'zstd':
      return { stream: external('zstd', ['-d', '-c', '-q'], stream), compression };
    case 'xz':
      return { stream: external('xz', ['-d', '-c', '-q'], stream), compression };
    case 'bzip2':
      return { stream: external('bzip2', ['-d', '-c', '-q'], stream), compression };
  }
}

/** Streams through a decompressor program (Node 20 has no zstd/xz/bzip2); its stderr goes into the error. */
function external(program: string, args: string[], input: Readable): Readable {
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => stderr.push(c));
  // Read at once into a stream of our own: when the program exits, Node resumes (drains) a
  // stdout nobody reads yet, and a consumer that starts late (after preparing where to
  // extract) would get nothing. It ends only once the program exited well, so a failure is
  // an error, never a short stream.
  const out = new PassThrough();
  child.stdout.pipe(out, { end: false });
  const fail = (err: Error) => {
    child.kill('SIGKILL');
    out.destroy(err);
  };
  child.on('error', (err) => fail(internal(`cannot run ${program}: ${err.message}`, err)));
  input.on('error', fail);
  child.stdin.on('error', () => undefined);
  input.pipe(child.stdin);
  child.on('close', (code, signal) => {
    if (code === 0) out.end();
    else if (!out.destroyed) {
      out.destroy(internal(`${[program, ...args].join(' ')}: exited with ${code ?? signal}: ${Buffer.concat(stderr).toString().trim() || '(no stderr)'}`));
    }
  });
  return out;
}
