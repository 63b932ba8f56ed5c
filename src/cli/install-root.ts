import { readFileSync } from 'node:fs';
import * as path from 'node:path';

let cached: { root: string; version: string } | undefined;

/**
 * The berth checkout or package this CLI runs from, and its version: the nearest folder
 * above this file whose package.json names berth (found by walking up, so it holds wherever
 * the compiled file sits under dist/).
 */
export function installRoot(): { root: string; version: string } {
  if (cached) return cached;
  let dir = __dirname;
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'berth') return (cached = { root: dir, version: pkg.version ?? 'dev' });
    } catch {
      // no package.json here: keep walking up
    }
    const parent = path.dirname(dir);
    if (parent === dir) return (cached = { root: path.resolve(__dirname, '..', '..', '..'), version: 'dev' });
    dir = parent;
  }
}
