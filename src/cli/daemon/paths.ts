import * as path from 'node:path';

/** Defaults shared by the CLI's daemon commands and auto-start. */
export const DAEMON_PID_FILE = '/run/berth/berthd.pid';
export const DEFAULT_DATA_ROOT = '/var/lib/berth';
export const AUTOSTART_LOG = '/run/berth/berthd.out';

/** dist/src/daemon/main.js, found from this compiled file (dist/src/cli/daemon/). */
export function daemonEntry(): string {
  return path.resolve(__dirname, '..', '..', 'daemon', 'main.js');
}

/**
 * bin/berthd, which picks the daemon's Node (the system's, not the CLI's pinned one: see
 * the launcher), so a daemon the CLI starts runs as one started by hand.
 */
export function daemonLauncher(): string {
  return path.resolve(__dirname, '..', '..', '..', '..', 'bin', 'berthd');
}
