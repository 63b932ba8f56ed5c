import * as path from 'node:path';
import { installRoot } from '../install-root';

/** Defaults shared by the CLI's daemon commands and auto-start. */
export const DAEMON_PID_FILE = '/run/berth/berthd.pid';
export const DEFAULT_DATA_ROOT = '/var/lib/berth';
export const AUTOSTART_LOG = '/run/berth/berthd.out';

/** dist/src/daemon/main.js of the checkout this CLI runs from. */
export function daemonEntry(): string {
  return path.join(installRoot().root, 'dist', 'src', 'daemon', 'main.js');
}

/**
 * bin/berthd, which picks the daemon's Node (the system's, not the CLI's pinned one: see
 * the launcher), so a daemon the CLI starts runs as one started by hand.
 */
export function daemonLauncher(): string {
  return path.join(installRoot().root, 'bin', 'berthd');
}
