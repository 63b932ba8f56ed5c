import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * node-gyp's output folder (build/Release at the package root), which holds the addon and
 * the berth-monitor executable. Found by walking up from this file, so it works from
 * src/ (ts loaders) and from dist/src/ (compiled) alike. Looked up once (every container
 * start asks for the monitor's path).
 */
let found: string | undefined;

export function nativeBuildDir(): string {
  found ??= findBuildDir();
  return found;
}

function findBuildDir(): string {
  let dir = __dirname;
  for (let depth = 0; depth < 6; depth++) {
    if (fs.existsSync(path.join(dir, 'binding.gyp'))) return path.join(dir, 'build', 'Release');
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return path.resolve(__dirname, '..', '..', '..', 'build', 'Release');
}
