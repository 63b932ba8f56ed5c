import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseDockerRef } from '../../images/reference';
import { RegistryClient } from './hosts';

/**
 * A plain-http registry on the loopback (insecure by default): the first session tries
 * https (docker's order) and falls back to http; later ones go to http at once.
 */
let server: http.Server;
let host: string;
let tlsAttempts = 0;
let plainAnswers = true;

before(async () => {
  server = http.createServer((req, res) => {
    if (!plainAnswers) {
      // What a TLS registry answers to plain http.
      res.writeHead(400).end('Client sent an HTTP request to an HTTPS server.\n');
      return;
    }
    if (req.url === '/v2/') return res.writeHead(200).end('{}');
    if (req.url === '/v2/team/app/tags/list') return res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"name":"team/app","tags":["1"]}');
    res.writeHead(404).end();
  });
  // A TLS ClientHello is not HTTP: the server sees a client error.
  server.on('clientError', (err, socket) => {
    tlsAttempts++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('a loopback registry that answered over http is asked over http first by the next sessions, with https as the fallback', async () => {
  const client = new RegistryClient();
  try {
    const ref = parseDockerRef(`${host}/team/app`);
    assert.deepEqual(await client.session(ref).listTags(), ['1']);
    assert.equal(tlsAttempts, 1, 'the first session tried https first');
    assert.deepEqual(await client.session(ref).listTags(), ['1']);
    assert.deepEqual(await client.session(ref).listTags(), ['1']);
    assert.equal(tlsAttempts, 1, 'later sessions went to http at once');

    // A registry that answers plain http as a TLS one does: a new client tries https first.
    plainAnswers = false;
    const fresh = new RegistryClient();
    try {
      await assert.rejects(fresh.session(ref).listTags());
      assert.equal(tlsAttempts, 2, 'a new client starts with https, as docker does');
    } finally {
      fresh.close();
    }
  } finally {
    client.close();
    plainAnswers = true;
  }
});
