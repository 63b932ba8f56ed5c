import { invalidArgument, notImplemented } from '../../errors';

/** How the monitor keeps a container's output, from HostConfig.LogConfig. */
export interface LogSettings {
  /** The driver's name ("" in a request or an older record means the default). */
  driver: string;
  /** False for the "none" driver: output is not kept, and `logs` has nothing to read. */
  enabled: boolean;
  /** Rotate at this many bytes; unset: the log grows without limit. */
  maxSize?: number;
  /** Files kept with rotation, the current one included. */
  maxFiles: number;
}

/** The drivers berth implements: all keep the monitor's binary log (the record format of protocol.ts). */
const DRIVER_OPTIONS: Record<string, readonly string[]> = {
  'json-file': ['max-file', 'max-size', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag'],
  local: ['max-file', 'max-size', 'compress'],
  none: [],
};
/** Log driver names, as /info lists them under Plugins.Log. */
export const LOG_DRIVERS: readonly string[] = Object.keys(DRIVER_OPTIONS);
/**
 * dockerd's default driver, reported by /info and stored by create: clients read it (docker-py's
 * `containers.run` reads the output back only from json-file or journald containers).
 */
export const DEFAULT_LOG_DRIVER = 'json-file';
/** Drivers dockerd has built in that berth does not implement: refused, never silently replaced. */
const DOCKERD_ONLY_DRIVERS = ['awslogs', 'etwlogs', 'fluentd', 'gcplogs', 'gelf', 'journald', 'logentries', 'splunk', 'syslog'];
/** Options dockerd accepts for every driver (its logger.builtInLogOpts). */
const BUILT_IN_OPTIONS = ['mode', 'max-buffer-size'];
/** Docker's local driver rotates by default; json-file does not. */
const LOCAL_DEFAULT_MAX_SIZE = 20 * 1024 * 1024;
const LOCAL_DEFAULT_MAX_FILES = 5;

/**
 * Checks HostConfig.LogConfig as dockerd does at create (logger.ValidateLogOpts and the
 * driver's own checks, with Docker's messages) and returns what the monitor needs.
 */
export function resolveLogConfig(config: LogConfigInput): LogSettings {
  const { Type: driver, Config: options } = withDefaultDriver(config);
  if (driver === 'none') return { driver, enabled: false, maxFiles: 1 };
  const mode = options.mode ?? '';
  if (!['', 'blocking', 'non-blocking'].includes(mode)) throw invalidArgument(`logger: logging mode not supported: ${mode}`);
  if (options['max-buffer-size'] !== undefined) {
    if (mode !== 'non-blocking') throw invalidArgument("logger: max-buffer-size option is only supported with 'mode=non-blocking'");
    parseSize(options['max-buffer-size'], 'binary', 'error parsing option max-buffer-size: ');
  }
  const known = DRIVER_OPTIONS[driver];
  if (!known && DOCKERD_ONLY_DRIVERS.includes(driver)) {
    throw notImplemented(`the ${driver} log driver is not supported by berth: use ${LOG_DRIVERS.join(', ')}`);
  }
  // dockerd looks an unknown name up as a logging plugin (berth has none).
  if (!known) throw invalidArgument(`error looking up logging plugin ${driver}: plugin "${driver}" not found`);
  for (const key of Object.keys(options)) {
    if (BUILT_IN_OPTIONS.includes(key) || known.includes(key)) continue;
    throw invalidArgument(driver === 'json-file' ? `unknown log opt '${key}' for json-file log driver` : `unknown log opt '${key}' for log driver ${driver}`);
  }
  // json-file reads sizes in decimal units (go-units FromHumanSize), local in binary ones (RAMInBytes).
  let maxSize: number | undefined = driver === 'local' ? LOCAL_DEFAULT_MAX_SIZE : undefined;
  if (options['max-size'] !== undefined) {
    maxSize = parseSize(options['max-size'], driver === 'local' ? 'binary' : 'decimal', '');
    if (maxSize <= 0) throw invalidArgument('max-size must be a positive number');
  }
  let maxFiles = driver === 'local' ? LOCAL_DEFAULT_MAX_FILES : 1;
  if (options['max-file'] !== undefined) {
    const text = options['max-file'];
    if (!/^[+-]?\d+$/.test(text)) throw invalidArgument(`strconv.Atoi: parsing "${text}": invalid syntax`);
    maxFiles = Number(text);
    if (maxFiles < 1) throw invalidArgument('max-file cannot be less than 1');
  }
  if (options.compress !== undefined && !['1', 't', 'T', 'true', 'TRUE', 'True', '0', 'f', 'F', 'false', 'FALSE', 'False'].includes(options.compress)) {
    throw invalidArgument(`strconv.ParseBool: parsing "${options.compress}": invalid syntax`);
  }
  return maxSize === undefined ? { driver, enabled: true, maxFiles: 1 } : { driver, enabled: true, maxSize, maxFiles };
}

type LogConfigInput = { Type?: string; Config?: Record<string, string> | null } | undefined;

/** HostConfig.LogConfig as create stores it (dockerd's mergeAndVerifyLogConfig): the default driver filled in. */
export function withDefaultDriver(config: LogConfigInput): { Type: string; Config: Record<string, string> } {
  return { Type: config?.Type || DEFAULT_LOG_DRIVER, Config: { ...(config?.Config ?? {}) } };
}

const SIZE = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/;
const UNITS = 'kmgtp';

/** go-units' size parsing: "10k", "10m", "1g", "512", "1.5MB"; decimal (1k = 1000) or binary (1k = 1024). */
export function parseSize(text: string, base: 'decimal' | 'binary', prefix: string): number {
  const match = SIZE.exec(text);
  if (!match) throw invalidArgument(`${prefix}invalid size: '${text}'`);
  const value = Number(match[1]);
  if (!Number.isFinite(value)) throw invalidArgument(`${prefix}invalid size: '${text}'`);
  const unit = match[2] ? UNITS.indexOf(match[2].toLowerCase()) + 1 : 0;
  return Math.trunc(value * (base === 'decimal' ? 1000 : 1024) ** unit);
}
