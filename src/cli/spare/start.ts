import { closeSync, openSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Set by the launcher when no spare answered on its socket: this command runs on plain
 * Node, and starts a spare there for the next one.
 */
const START_ENV = 'BERTH_CLI_START_SPARE';

/** Reads (and removes, so no child inherits it) the launcher's request to start a spare. */
export function takeSpareRequest(): string | undefined {
  const socketPath = process.env[START_ENV];
  delete process.env[START_ENV];
  return socketPath && path.isAbsolute(socketPath) && process.getuid?.() === 0 ? socketPath : undefined;
}

/** Starts a detached spare listening on `socketPath`; a failure only costs the next command its speed. */
export function startSpare(socketPath: string): void {
  try {
    const { spawn } = require('node:child_process') as typeof import('node:child_process');
    const devNull = openSync('/dev/null', 'r+');
    try {
      spawn(process.execPath, ['--expose-gc', path.join(__dirname, 'spare.js'), '--listen', socketPath], { detached: true, stdio: [devNull, devNull, devNull] }).unref();
    } finally {
      closeSync(devNull);
    }
  } catch {
    // no spare: every command runs on plain Node
  }
}
