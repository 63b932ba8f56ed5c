import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/**
 * Imports go one way, down docs/architecture.md's picture: the API does not reach into the
 * engine, the engine does not define HTTP routes, and the stores, drivers and image formats
 * below know neither (and inside src/archive, tar knows no image format). Only the daemon (the composition root) wires them all.
 */
/** The TypeScript sources (this runs from dist/src): stale compiled files cannot fool it. */
const SRC = path.resolve(__dirname, '..', '..', 'src');

/** [the folder whose files are checked, the folders they must not import from]. */
const RULES: [string, string[]][] = [
  ['api', ['engine', 'daemon']],
  ['engine', ['api/server', 'daemon']],
  // Inside src/archive: the tar layer knows no image format or store; the image archive
  // format (archive/image) sits on the image models and the content store, never under them.
  ['archive/tar', ['archive/image', 'images', 'content', 'metadata', 'snapshots']],
  ['images', ['archive/image']],
  ['content', ['archive', 'images']],
  // The registry server is its own program: it shares the content store, never the engine or berthd.
  ['registry/server', ['engine', 'api', 'daemon', 'cli', 'metadata', 'snapshots', 'runtime']],
  ...['images', 'util', 'runtime', 'network', 'content', 'snapshots', 'metadata', 'volumes', 'archive', 'native', 'errors'].map((low): [string, string[]] => [low, ['engine', 'api/server', 'daemon', 'cli']]),
];

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

test('imports go one way (api ↛ engine, engine ↛ routes, lower layers ↛ engine or api server)', async () => {
  const violations: string[] = [];
  for (const [folder, forbidden] of RULES) {
    for (const file of await sourceFiles(path.join(SRC, folder))) {
      const text = await fs.readFile(file, 'utf8');
      for (const match of text.matchAll(/(?:from |import\()'(\.[^']+)'/g)) {
        const target = path.relative(SRC, path.resolve(path.dirname(file), match[1]!));
        for (const bad of forbidden) {
          if (target === bad || target.startsWith(`${bad}/`)) violations.push(`${path.relative(SRC, file)} imports ${target}`);
        }
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('the check sees imports at all', async () => {
  const text = await fs.readFile(path.join(SRC, 'daemon', 'daemon.ts'), 'utf8');
  assert.match(text, /from '\.\.\/engine\//, 'the import form the rule reads');
});
