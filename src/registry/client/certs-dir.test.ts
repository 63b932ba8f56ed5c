import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCertsDir } from './certs-dir';

test('certs.d as dockerd reads it: *.crt are CAs, *.cert needs its *.key and the other way round; no folder, nothing', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'certsd-'));
  try {
    const host = path.join(dir, 'reg.example:5000');
    await fs.mkdir(host);
    assert.equal(await readCertsDir(dir, 'reg.example:5000', 'reg.example:5000'), undefined, 'an empty folder');
    assert.equal(await readCertsDir(dir, 'other:5000', 'other:5000'), undefined, 'no folder');
    assert.equal(await readCertsDir(dir, '..', '..'), undefined, 'no folder outside');
    await fs.writeFile(path.join(host, 'ca.crt'), 'CA ONE');
    await fs.writeFile(path.join(host, 'README'), 'ignored');
    const one = await readCertsDir(dir, 'reg.example:5000', 'reg.example:5000');
    assert.deepEqual(one?.ca.map(String), ['CA ONE']);
    assert.deepEqual(one?.clients, []);
    await fs.writeFile(path.join(host, 'client.cert'), 'CERT');
    await assert.rejects(readCertsDir(dir, 'reg.example:5000', 'reg.example:5000'), /missing key client\.key for client certificate client\.cert\. CA certificates must use the extension \.crt/);
    await fs.writeFile(path.join(host, 'client.key'), 'KEY');
    const two = await readCertsDir(dir, 'reg.example:5000', 'reg.example:5000');
    assert.deepEqual(two?.clients.map((c) => [String(c.cert), String(c.key)]), [['CERT', 'KEY']]);
    assert.notEqual(two?.fingerprint, one?.fingerprint, 'new files, new agent');
    await fs.rm(path.join(host, 'client.cert'));
    await assert.rejects(readCertsDir(dir, 'reg.example:5000', 'reg.example:5000'), /missing client certificate client\.cert for key client\.key/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
