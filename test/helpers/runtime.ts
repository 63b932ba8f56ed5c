import { accessSync, constants } from 'node:fs';
import * as path from 'node:path';

/** The runtime a test daemon runs when none is given, as berthd picks it (runtime-flavor.ts): crun when it is on PATH, else runc. */
export const DEFAULT_RUNTIME_NAME: 'crun' | 'runc' = (process.env.PATH ?? '').split(':').some((dir) => {
  try {
    accessSync(path.join(dir, 'crun'), constants.X_OK);
    return true;
  } catch {
    return false;
  }
})
  ? 'crun'
  : 'runc';
