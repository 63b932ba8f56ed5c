import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ImageMetadataStore } from '../../../src/metadata/images';
import { ContainerStore } from '../../../src/metadata/containers';
import { parseNormalizedNamed } from '../../../src/images/reference';

const WRITER = path.join(__dirname, '..', '..', 'helpers', 'metadata-writer.js');

/** Runs the writer until it has acknowledged some iterations, kills it with SIGKILL after a random delay; returns the last acknowledged iteration. */
async function runAndKill(root: string, delayMs: number): Promise<number> {
  const child = spawn(process.execPath, [WRITER, root], { stdio: ['ignore', 'pipe', 'pipe'] });
  let last = -1;
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const l of lines) last = Number(l);
      if (last >= 0) resolve();
    });
    child.once('exit', (code) => reject(new Error(`writer exited with ${code}: ${stderr}`)));
  });
  await new Promise((r) => setTimeout(r, delayMs));
  child.kill('SIGKILL');
  await exited;
  // Whatever was written to the pipe before the kill is still read.
  for (const l of buffered.split('\n')) if (l !== '') last = Number(l);
  return last;
}

test('kill -9 of a process writing the image and container stores: reopened state is consistent and loses nothing acknowledged', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'meta-kill-'));
  try {
    for (let round = 0; round < 12; round++) {
      const acked = await runAndKill(root, 5 + Math.floor(Math.random() * 250));
      const images = new ImageMetadataStore(path.join(root, 'images'));
      const containers = new ContainerStore(path.join(root, 'containers'));
      await images.init();
      await containers.init();
      const top = images.lookupRef(parseNormalizedNamed('img'));
      assert.ok(top, `round ${round}: the img tag is lost`);
      const n = Number.parseInt(top.slice(7), 16) - 1; // the iteration that wrote it
      assert.ok(n === acked || n === acked + 1, `round ${round}: iteration ${n} on disk, ${acked} acknowledged`);
      // The batch is whole: the previous image went with the tag move, the new one is there.
      assert.equal(images.count(), 2, `round ${round}: ${images.count()} images`);
      assert.ok(images.get(top));
      for (let k = 0; k <= n + 10; k += 10) {
        const kept = images.lookupRef(parseNormalizedNamed(`keep:${k}`));
        assert.equal(kept !== undefined, k <= n, `round ${round}: keep:${k} ${kept ? 'present' : 'missing'} with iteration ${n}`);
      }
      const c = containers.get('c');
      assert.ok(c.RestartCount >= acked && (c.RestartCount === n || c.RestartCount === n - 1), `round ${round}: container at ${c.RestartCount}, images at ${n}, acked ${acked}`);
      await images.close();
      await containers.close();
    }
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
});
