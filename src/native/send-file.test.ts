import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { hasSendFile, native } from './index';

/** sendFile (native/addon/send_file.c) over real loopback TCP connections. */

const skip = hasSendFile() ? false : 'the addon was built without sendFile';

interface Pair {
  /** The sending side's fd (a net.Socket's, as the registry server's). */
  fd: number;
  sender: net.Socket;
  receiver: net.Socket;
  close(): void;
}

async function socketPair(): Promise<Pair> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const receiver = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((resolve) => receiver.once('connect', resolve));
  const sender = await accepted;
  server.close();
  // A receiver that leaves with bytes unread resets the connection: the sender's own read sees it.
  sender.on('error', () => undefined);
  const fd = (sender as unknown as { _handle: { fd: number } })._handle.fd;
  return { fd, sender, receiver, close: () => (sender.destroy(), receiver.destroy()) };
}

/** A temp file of `size` random bytes; `sparse`: extended with a hole to that many bytes (more than any socket buffers hold). */
function withFile(size: number, body: (fd: number, data: Buffer) => Promise<void>, sparse?: number): () => Promise<void> {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-send-file-'));
    const data = randomBytes(size);
    fs.writeFileSync(path.join(dir, 'blob'), data);
    if (sparse !== undefined) fs.truncateSync(path.join(dir, 'blob'), sparse);
    const fd = fs.openSync(path.join(dir, 'blob'), 'r');
    try {
      await body(fd, data);
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

function received(socket: net.Socket, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= length) resolve(Buffer.concat(chunks));
    });
    socket.once('error', reject);
  });
}

function threads(): number {
  return fs.readdirSync('/proc/self/task').length;
}

async function settles(promise: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise.then((v) => v, (e: unknown) => e), late]);
  } finally {
    clearTimeout(timer);
  }
}

test('sendFile sends exactly the range asked, bigger than the socket buffers, and leaves the caller\'s fds open', { skip }, withFile(12 * 1024 * 1024 + 7, async (file, data) => {
  const pair = await socketPair();
  try {
    const offset = 1234;
    const length = data.length - offset - 99;
    const arriving = received(pair.receiver, length);
    const [sent] = native.sendFile!(pair.fd, file, offset, length);
    assert.equal(await sent, length);
    const got = await arriving;
    assert.equal(got.length, length);
    assert.ok(got.equals(data.subarray(offset, offset + length)), 'the same bytes');
    // Both fds are still the caller's: the socket writes on, the file reads.
    pair.receiver.removeAllListeners('data');
    const more = received(pair.receiver, 5);
    pair.sender.write('after');
    assert.equal((await more).toString(), 'after');
    assert.equal(fs.readSync(file, Buffer.alloc(4), 0, 4, 0), 4);
  } finally {
    pair.close();
  }
}));

const GIB = 1024 * 1024 * 1024;

test('a send to a client that stops reading waits, and sendFileCancel ends it with ECANCELED and its thread', { skip }, withFile(1000, async (file) => {
  const pair = await socketPair();
  try {
    pair.receiver.pause();
    const before = threads();
    const [sent, handle] = native.sendFile!(pair.fd, file, 0, GIB);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(threads(), before + 1, 'one thread waits on the full socket');
    native.sendFileCancel!(handle);
    const outcome = (await settles(sent, 5000)) as NodeJS.ErrnoException;
    assert.equal(outcome.code, 'ECANCELED');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(threads(), before, 'the thread is gone');
    native.sendFileCancel!(handle); // after the end: nothing
  } finally {
    pair.close();
  }
}, GIB));

test('a send whose client goes away fails with EPIPE or ECONNRESET', { skip }, withFile(1000, async (file) => {
  const pair = await socketPair();
  try {
    pair.receiver.pause();
    const [sent] = native.sendFile!(pair.fd, file, 0, GIB);
    await new Promise((r) => setTimeout(r, 100));
    pair.receiver.destroy();
    const outcome = (await settles(sent, 5000)) as NodeJS.ErrnoException;
    assert.ok(outcome.code === 'EPIPE' || outcome.code === 'ECONNRESET', `got ${String(outcome.code ?? outcome)}`);
  } finally {
    pair.close();
  }
}, GIB));

test('a file shorter than the length promised fails with ENODATA after what it had; bad fds fail at once', { skip }, withFile(1000, async (file, data) => {
  const pair = await socketPair();
  try {
    const arriving = received(pair.receiver, data.length);
    const [sent] = native.sendFile!(pair.fd, file, 0, data.length + 10);
    const outcome = (await settles(sent, 5000)) as NodeJS.ErrnoException;
    assert.equal(outcome.code, 'ENODATA');
    assert.ok((await arriving).equals(data));
    // A file where the socket goes, a socket where the file goes.
    assert.equal(((await settles(native.sendFile!(file, file, 0, 10)[0], 5000)) as NodeJS.ErrnoException).code, 'EINVAL');
    assert.equal(((await settles(native.sendFile!(pair.fd, pair.fd, 0, 10)[0], 5000)) as NodeJS.ErrnoException).code, 'EINVAL');
    assert.throws(() => native.sendFile!(pair.fd, file, -1, 10), /offset/);
  } finally {
    pair.close();
  }
}));
