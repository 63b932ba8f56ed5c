import { readFileSync } from 'node:fs';
import type { DeviceMapping, Mount, ThrottleDevice, Ulimit } from '../../../client/types';
import { parseGoDuration, parseMemoryBytes } from '../../output/units';
import { StatusError } from '../../command';

/**
 * Parsers for docker's run/create flag values (docker/cli opts and go-units), with docker's
 * messages: `invalid argument "<value>" for "<flag>" flag: <reason>`.
 */

export function flagError(flag: string, value: string, reason: string): StatusError {
  return new StatusError(125, `invalid argument "${value}" for "${flag}" flag: ${reason}`);
}

/** `key=value` pairs (a map flag): a bare key has an empty value. */
export function parseKeyValues(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    out[eq === -1 ? value : value.slice(0, eq)] = eq === -1 ? '' : value.slice(eq + 1);
  }
  return out;
}

const ULIMIT_NAMES = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack', 'as']);

/** go-units ParseUlimit: `name=soft[:hard]`, -1 for unlimited. */
export function parseUlimit(value: string): Ulimit {
  const fail = (reason: string) => flagError('--ulimit', value, reason);
  const eq = value.indexOf('=');
  if (eq === -1) throw fail(`invalid ulimit argument: ${value}`);
  const name = value.slice(0, eq);
  if (!ULIMIT_NAMES.has(name)) throw fail(`invalid ulimit type: ${name}`);
  const limits = value.slice(eq + 1).split(':');
  if (limits.length > 2) throw fail(`too many limit value arguments - ${value.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
  const number = (text: string) => {
    if (!/^[+-]?\d+$/.test(text)) throw fail(`strconv.ParseInt: parsing "${text}": invalid syntax`);
    return Number(text);
  };
  const soft = number(limits[0]!);
  const hard = limits.length === 2 ? number(limits[1]!) : soft;
  if (hard !== -1 && soft > hard) throw fail(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: name, Soft: soft, Hard: hard };
}

const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/** docker/cli opts.ValidateSysctl: only namespaced sysctls (IPC ones, net.*, fs.mqueue.*). */
export function parseSysctls(values: readonly string[]): Record<string, string> {
  for (const value of values) {
    const name = value.split('=')[0]!;
    const allowed = value.includes('=') && (IPC_SYSCTLS.has(name) || name.startsWith('net.') || name.startsWith('fs.mqueue.'));
    if (!allowed) throw flagError('--sysctl', value, `sysctl '${value}' is not allowed`);
  }
  return parseKeyValues(values);
}

/** docker/cli opts.ValidateDevice + ParseDevice: `host[:container][:permissions]`. */
export function parseDevice(value: string): DeviceMapping {
  // docker checks devices after flag parsing: its messages carry no "invalid argument" frame.
  const fail = (reason: string) => new StatusError(125, reason);
  const parts = value.split(':');
  const mode = (text: string) => /^[rwm]{1,3}$/.test(text) && new Set(text).size === text.length;
  let onHost = parts[0]!;
  let inContainer = '';
  let permissions = 'rwm';
  if (parts.length === 3) {
    if (!mode(parts[2]!)) throw fail(`bad mode specified: ${parts[2]}`);
    inContainer = parts[1]!;
    permissions = parts[2]!;
  } else if (parts.length === 2) {
    if (mode(parts[1]!)) permissions = parts[1]!;
    else inContainer = parts[1]!;
  } else if (parts.length !== 1) {
    throw fail(`invalid device specification: ${value}`);
  }
  if (!onHost.startsWith('/')) throw fail(`bad format for path: ${onHost}`);
  if (inContainer !== '' && !inContainer.startsWith('/')) throw fail(`bad format for path: ${inContainer}`);
  onHost = onHost.replace(/\/+$/, '') || '/';
  return { PathOnHost: onHost, PathInContainer: inContainer || onHost, CgroupPermissions: permissions };
}

/** docker/cli opts.ValidateDeviceCgroupRule: `c|b|a major:minor rwm`. */
export function parseDeviceCgroupRule(value: string): string {
  if (!/^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.test(value)) throw flagError('--device-cgroup-rule', value, `invalid device cgroup format '${value}'`);
  return value;
}

/** `--device-read-bps /dev/sda:1mb` (bytes with go-units' RAM units) and the iops form (a number). */
export function parseThrottleDevice(flag: string, value: string, unit: 'bytes' | 'iops'): ThrottleDevice {
  const colon = value.lastIndexOf(':');
  if (colon === -1) throw flagError(flag, value, `bad format: ${value}`);
  const path = value.slice(0, colon);
  if (!path.startsWith('/dev/')) throw flagError(flag, value, `bad format for device path: ${value}`);
  const text = value.slice(colon + 1);
  let rate: number;
  try {
    rate = unit === 'bytes' ? parseMemoryBytes(text) : /^\d+$/.test(text) ? Number(text) : NaN;
  } catch {
    rate = NaN;
  }
  if (!Number.isFinite(rate) || rate < 0) {
    const format = unit === 'bytes' ? '<device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb' : '<device-path>:<number>. Number must be a positive integer';
    throw flagError(flag, value, `invalid rate for device: ${value}. The correct format is ${format}`);
  }
  return { Path: path, Rate: rate };
}

/** `--blkio-weight-device /dev/sda:200`: a weight between 10 and 1000, or 0. */
export function parseWeightDevice(value: string): { Path: string; Weight: number } {
  const colon = value.lastIndexOf(':');
  if (colon === -1) throw flagError('--blkio-weight-device', value, `bad format: ${value}`);
  const path = value.slice(0, colon);
  if (!path.startsWith('/dev/')) throw flagError('--blkio-weight-device', value, `bad format for device path: ${value}`);
  const text = value.slice(colon + 1);
  const weight = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(weight) || (weight !== 0 && (weight < 10 || weight > 1000))) throw flagError('--blkio-weight-device', value, `invalid weight for device: ${value}`);
  return { Path: path, Weight: weight };
}

/** A Go duration flag (`30s`, `1m30s`, `0`), in nanoseconds as the API wants it. */
export function parseDurationNs(flag: string, value: string): number {
  const ms = value === '0' ? 0 : parseGoDuration(value);
  if (ms === undefined) throw flagError(flag, value, `time: invalid duration "${value}"`);
  return Math.round(ms * 1e6);
}

/** Splits one CSV record as Go's encoding/csv does (docker's --mount and --gpus use it). */
export function splitCsv(value: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (quoted) {
      if (ch === '"' && value[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  fields.push(field);
  return fields;
}

const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** docker/cli opts.MountOpt: `type=bind,source=/a,target=/b,readonly,...`. */
export function parseMount(value: string): Mount {
  const fail = (reason: string) => flagError('--mount', value, reason);
  const mount: Mount = { Type: 'volume' };
  const bool = (key: string, text: string | undefined) => {
    if (text === undefined || TRUE.has(text)) return true;
    if (FALSE.has(text)) return false;
    throw fail(`invalid value for ${key}: ${text}`);
  };
  // docker's MountOpt makes an (empty) DriverConfig with the volume options.
  const volumeOptions = () => (mount.VolumeOptions ??= { DriverConfig: {} });
  const tmpfsOptions = () => (mount.TmpfsOptions ??= {});
  const bindOptions = () => (mount.BindOptions ??= {});
  for (const field of splitCsv(value)) {
    const eq = field.indexOf('=');
    const key = (eq === -1 ? field : field.slice(0, eq)).toLowerCase();
    const val = eq === -1 ? undefined : field.slice(eq + 1);
    if (val === undefined && !['readonly', 'ro', 'volume-nocopy', 'bind-nonrecursive'].includes(key)) throw fail(`invalid field '${field}' must be a key=value pair`);
    switch (key) {
      case 'type':
        if (!['bind', 'volume', 'tmpfs', 'npipe', 'cluster', 'image'].includes(val!)) throw fail(`invalid mount type: ${val}`);
        mount.Type = val as Mount['Type'];
        break;
      case 'source':
      case 'src':
        mount.Source = val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        mount.Target = val;
        break;
      case 'readonly':
      case 'ro':
        mount.ReadOnly = bool(key, val);
        break;
      case 'consistency':
        mount.Consistency = val;
        break;
      case 'bind-propagation':
        bindOptions().Propagation = val;
        break;
      case 'bind-nonrecursive':
        bindOptions().NonRecursive = bool(key, val);
        break;
      case 'volume-nocopy':
        volumeOptions().NoCopy = bool(key, val);
        break;
      case 'volume-subpath':
        volumeOptions().Subpath = val;
        break;
      case 'volume-label': {
        const [k, v = ''] = splitOnce(val!);
        volumeOptions().Labels = { ...(volumeOptions().Labels ?? {}), [k]: v };
        break;
      }
      case 'volume-driver':
        volumeOptions().DriverConfig = { ...(volumeOptions().DriverConfig ?? {}), Name: val };
        break;
      case 'volume-opt': {
        const [k, v = ''] = splitOnce(val!);
        const driver = (volumeOptions().DriverConfig ??= {});
        driver.Options = { ...(driver.Options ?? {}), [k]: v };
        break;
      }
      case 'tmpfs-size':
        try {
          tmpfsOptions().SizeBytes = parseMemoryBytes(val!);
        } catch {
          throw fail(`invalid value for ${key}: ${val}`);
        }
        break;
      case 'tmpfs-mode': {
        const mode = parseInt(val!, 8);
        if (!/^[0-7]+$/.test(val!)) throw fail(`invalid value for ${key}: ${val}`);
        tmpfsOptions().Mode = mode;
        break;
      }
      default:
        throw fail(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (mount.Type === undefined) throw fail('type is required');
  if (!mount.Target) throw fail('target is required');
  if (mount.VolumeOptions && mount.Type !== 'volume') throw fail(`cannot mix 'volume-*' options with mount type '${mount.Type}'`);
  if (mount.BindOptions && mount.Type !== 'bind') throw fail(`cannot mix 'bind-*' options with mount type '${mount.Type}'`);
  if (mount.TmpfsOptions && mount.Type !== 'tmpfs') throw fail(`cannot mix 'tmpfs-*' options with mount type '${mount.Type}'`);
  return mount;
}

function splitOnce(text: string): [string, string?] {
  const eq = text.indexOf('=');
  return eq === -1 ? [text] : [text.slice(0, eq), text.slice(eq + 1)];
}

export interface DeviceRequest {
  Driver: string;
  Count: number;
  DeviceIDs: string[] | null;
  Capabilities: string[][] | null;
  Options: Record<string, string>;
}

/** docker/cli opts.GpuOpts: `all`, a count, or `count=N,driver=D,device=a,b,capabilities=c,options=k=v`. */
export function parseGpus(value: string): DeviceRequest {
  const fail = (reason: string) => flagError('--gpus', value, reason);
  const request: DeviceRequest = { Driver: '', Count: 0, DeviceIDs: null, Capabilities: null, Options: {} };
  const count = (text: string) => {
    if (text === 'all') return -1;
    if (!/^\d+$/.test(text)) throw fail(`strconv.Atoi: parsing "${text}": invalid syntax`);
    return Number(text);
  };
  let seenCount = false;
  for (const field of splitCsv(value)) {
    const eq = field.indexOf('=');
    if (eq === -1) {
      if (seenCount) throw fail('gpu request key \'[count]\' can be specified only once');
      request.Count = count(field);
      seenCount = true;
      continue;
    }
    const key = field.slice(0, eq);
    const val = field.slice(eq + 1);
    switch (key) {
      case 'driver':
        request.Driver = val;
        break;
      case 'count':
        request.Count = count(val);
        seenCount = true;
        break;
      case 'device':
        request.DeviceIDs = val.split(',');
        break;
      case 'capabilities':
        request.Capabilities = [val.split(',')];
        break;
      case 'options':
        Object.assign(request.Options, parseKeyValues(val.split(',')));
        break;
      default:
        throw fail(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (request.Count !== 0 && request.DeviceIDs) throw fail('cannot set both Count and DeviceIDs on device request');
  request.Capabilities ??= [['gpu']];
  if (!request.Capabilities.some((caps) => caps.includes('gpu'))) request.Capabilities = request.Capabilities.map((caps) => [...caps, 'gpu']);
  return request;
}

/** `--label-file`: one label a line, `#` comments and blank lines skipped (docker's ReadKVStrings). */
export function readLabelFile(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((line) => line.replace(/^\s+/, ''))
    .filter((line) => line !== '' && !line.startsWith('#'));
}
