import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { PortProxy } from './proxy';

/** A server on 127.0.0.1 that sends `size` bytes to each client, then ends; it also counts what it receives. */
async function sender(size: number): Promise<{ port: number; received: () => number; close: () => Promise<void> }> {
  let received = 0;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('data', (c: Buffer) => (received += c.length));
    socket.on('error', () => undefined);
    const chunk = Buffer.alloc(64 * 1024, 7);
    let left = size;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!socket.write(chunk.subarray(0, n))) return void socket.once('drain', pump);
      }
      socket.end();
    };
    pump();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, received: () => received, close: () => new Promise((r) => server.close(() => r())) };
}

async function read(port: number, options: { halfCloseFirst: boolean; send?: Buffer }): Promise<number> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  if (options.send) socket.write(options.send);
  if (options.halfCloseFirst) socket.end();
  let bytes = 0;
  socket.on('data', (c: Buffer) => (bytes += c.length));
  await once(socket, 'end');
  socket.end();
  return bytes;
}

test('the userland proxy relays a whole stream to its end, also to a client that half-closed first (as nc </dev/null)', async () => {
  const size = 32 * 1024 * 1024;
  const upstream = await sender(size);
  const proxy = await PortProxy.open({ proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, containerPort: upstream.port }, { ip: '127.0.0.1', port: upstream.port }, new Set());
  try {
    const port = proxy.mapping.hostPort;
    assert.equal(await read(port, { halfCloseFirst: false }), size);
    assert.equal(await read(port, { halfCloseFirst: true, send: Buffer.alloc(1000, 1) }), size);
    assert.equal(upstream.received(), 1000, 'what the client sent before its FIN reached the server');
  } finally {
    await proxy.close();
    await upstream.close();
  }
});
