import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** The absolute path of `binary` on PATH (as execvp finds it), or the bare name when it is not found. */
export async function lookPath(binary: string): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    const candidate = path.join(dir, binary);
    try {
      await fs.access(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return binary;
}
