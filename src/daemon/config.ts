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
  /** The OCI runtime binary (crun, runc, or a path to one); default: crun on PATH, else runc. */
  runtimePath?: string;
  /** The longest one runtime call (and a start) may take before it is killed; default 30 s. */
  runtimeTimeoutMs?: number;
  /**
   * `--bridge none` (as dockerd's `-b none`): no default bridge network; containers on the
   * default network get a private namespace with loopback only. Default: the `berth0` bridge.
   */
  defaultBridge: boolean;
  /** `--registry-mirror` (repeatable): mirrors for docker.io pulls, tried in order. */
  registryMirrors: string[];
  /** `--insecure-registry` (repeatable): host[:port] or CIDR spoken to without verified TLS. */
  insecureRegistries: string[];
  /** `--registry-certs-dir`: per-registry CA and client certificates, as dockerd's /etc/docker/certs.d (its default). */
  registryCertsDir: string;
  /** `--config-file`: dockerd-style daemon.json; `explicit` when given (then it must exist). */
  configFile: { path: string; explicit: boolean };
}

export const DEFAULT_CONFIG_FILE = '/etc/berth/daemon.json';
/** dockerd's folder: a CA put there for docker counts for berth too. */
export const DEFAULT_REGISTRY_CERTS_DIR = '/etc/docker/certs.d';

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
      --runtime-path string     The OCI runtime binary (default: crun on PATH, else runc)
      --runtime-timeout string  Longest a runtime call may take, e.g. 30s or 500ms (default "30s")
  -b, --bridge string      "none": no default bridge network (default "berth0")
      --config-file string      Daemon configuration file (default "${DEFAULT_CONFIG_FILE}")
      --registry-mirror list    Preferred registry mirror for docker.io (repeatable)
      --insecure-registry list  Registry (host[:port] or CIDR) reached without verified TLS (repeatable)
      --registry-certs-dir string  Per-registry CAs (<host:port>/*.crt) and client certificates (*.cert, *.key) (default "${DEFAULT_REGISTRY_CERTS_DIR}")
`;

export function parseDaemonArgs(argv: readonly string[]): DaemonConfig | 'help' {
  let dataRoot = DEFAULT_DATA_ROOT;
  let execRoot = DEFAULT_EXEC_ROOT;
  let socket: string | undefined;
  let pidFile: string | undefined;
  let logLevel: DaemonConfig['logLevel'] = 'info';
  let runtimePath: string | undefined;
  let runtimeTimeoutMs: number | undefined;
  let defaultBridge = true;
  const registryMirrors: string[] = [];
  const insecureRegistries: string[] = [];
  let registryCertsDir = DEFAULT_REGISTRY_CERTS_DIR;
  let configFile = { path: DEFAULT_CONFIG_FILE, explicit: false };
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
      case '--runtime-path': {
        const v = value();
        runtimePath = v.includes('/') ? path.resolve(v) : v;
        break;
      }
      case '--runtime-timeout':
        runtimeTimeoutMs = parseDurationMs(flag, value());
        break;
      case '-b':
      case '--bridge': {
        const v = value();
        if (v !== 'none' && v !== 'berth0') throw invalidArgument(`invalid --bridge ${v}: only "none" (no default bridge) or "berth0" are supported`);
        defaultBridge = v !== 'none';
        break;
      }
      case '--registry-mirror':
        registryMirrors.push(value());
        break;
      case '--insecure-registry':
        insecureRegistries.push(value());
        break;
      case '--registry-certs-dir':
        registryCertsDir = path.resolve(value());
        break;
      case '--config-file':
        configFile = { path: path.resolve(value()), explicit: true };
        break;
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
    defaultBridge,
    registryMirrors,
    insecureRegistries,
    registryCertsDir,
    configFile,
    ...(runtimePath ? { runtimePath } : {}),
    ...(runtimeTimeoutMs !== undefined ? { runtimeTimeoutMs } : {}),
  };
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** A positive duration with a unit, as Go writes them: "500ms", "30s", "1.5m". */
function parseDurationMs(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text);
  const ms = match ? Number(match[1]) * DURATION_UNITS_MS[match[2]!]! : NaN;
  if (!(ms >= 1)) throw invalidArgument(`invalid duration for ${flag}: ${text} (e.g. 30s, 500ms)`);
  return Math.round(ms);
}

export { USAGE as DAEMON_USAGE };
