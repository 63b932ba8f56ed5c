import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { CompleteTarEnd } from './complete-tar';

async function tarOf(files: Array<[string, string]>): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const [name, content] of files) pack.entry({ name, size: Buffer.byteLength(content) }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

async function listThrough(bytes: Buffer, chunk = 100): Promise<string[]> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) pieces.push(bytes.subarray(i, i + chunk));
  const extract = tarStream.extract();
  Readable.from(pieces).pipe(new CompleteTarEnd()).pipe(extract as unknown as NodeJS.WritableStream);
  const out: string[] = [];
  for await (const entry of extract) {
    let body = '';
    for await (const c of entry as unknown as AsyncIterable<Buffer>) body += c.toString();
    out.push(`${entry.header.name}=${body}`);
  }
  return out;
}

test('a complete tar passes unchanged', async () => {
  const tar = await tarOf([['a', 'A'], ['b', 'B'.repeat(700)]]);
  assert.deepEqual(await listThrough(tar), ['a=A', `b=${'B'.repeat(700)}`]);
});

test("docker 20.10's `-f -` tar (last entry's padding and end blocks missing) is completed", async () => {
  const full = await tarOf([['a', 'A'], ['.dockerfile.x', 'FROM busybox\n']]);
  const cut = full.subarray(0, 512 * 3 + 13); // a's header+data, the Dockerfile's header + 13 bytes
  assert.deepEqual(await listThrough(cut, 7), ['a=A', '.dockerfile.x=FROM busybox\n']);
  const noTrailer = full.subarray(0, 512 * 4);
  assert.deepEqual(await listThrough(noTrailer), ['a=A', '.dockerfile.x=FROM busybox\n']);
});

test('a tar cut inside an entry stays short and fails', async () => {
  const full = await tarOf([['a', 'A'.repeat(600)]]);
  await assert.rejects(listThrough(full.subarray(0, 512 + 300)), /Unexpected end of data/);
});
