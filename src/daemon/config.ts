import * as path from 'node:path';
import { invalidArgument } from '../errors';

/** Daemon settings: where state lives and where the API listens. */
export interface DaemonConfig {
  /** Persistent state: images, layers, containers, volumes. */
  dataRoot: string;
  /** Runtime state that dies with the machine: sockets, runc state. Keep it short (unix socket paths ≤ 108 bytes). */
  execRoot: string;
  socketPath: string;
  pidFile: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export const DEFAULT_DATA_ROOT = '/var/lib/berth';
export const DEFAULT_EXEC_ROOT = '/run/berth';
export const DEFAULT_SOCKET = '/run/berth/berth.sock';

const USAGE = `Usage: berthd [OPTIONS]

Options:
      --data-root string   Root of persistent state (default "${DEFAULT_DATA_ROOT}")
      --exec-root string   Root of runtime state (default "${DEFAULT_EXEC_ROOT}")
  -H, --host string        Socket to listen on (default "unix://${DEFAULT_SOCKET}")
  -p, --pidfile string     Path of the pid file (default "<exec-root>/berthd.pid")
  -l, --log-level string   debug, info, warn or error (default "info")
`;

export function parseDaemonArgs(argv: readonly string[]): DaemonConfig | 'help' {
  let dataRoot = DEFAULT_DATA_ROOT;
  let execRoot = DEFAULT_EXEC_ROOT;
  let socket: string | undefined;
  let pidFile: string | undefined;
  let logLevel: DaemonConfig['logLevel'] = 'info';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw invalidArgument(`flag needs an argument: ${flag}`);
      return v;
    };
    switch (flag) {
      case '--data-root':
        dataRoot = path.resolve(value());
        break;
      case '--exec-root':
        execRoot = path.resolve(value());
        break;
      case '-H':
      case '--host':
      case '--socket': {
        const v = value();
        if (v.includes('://') && !v.startsWith('unix://')) throw invalidArgument(`unsupported host ${v}: only unix:// sockets are served`);
        socket = path.resolve(v.replace(/^unix:\/\//, ''));
        break;
      }
      case '-p':
      case '--pidfile':
        pidFile = path.resolve(value());
        break;
      case '-l':
      case '--log-level': {
        const v = value();
        if (!['debug', 'info', 'warn', 'error'].includes(v)) throw invalidArgument(`invalid log level: ${v}`);
        logLevel = v as DaemonConfig['logLevel'];
        break;
      }
      case '-h':
      case '--help':
        return 'help';
      default:
        throw invalidArgument(`unknown flag: ${arg}\n\n${USAGE}`);
    }
  }
  return {
    dataRoot,
    execRoot,
    socketPath: socket ?? (execRoot === DEFAULT_EXEC_ROOT ? DEFAULT_SOCKET : path.join(execRoot, 'berth.sock')),
    pidFile: pidFile ?? path.join(execRoot, 'berthd.pid'),
    logLevel,
  };
}

export { USAGE as DAEMON_USAGE };
