import { readFileSync } from 'node:fs';
import type { ParsedFlags } from '../../args/parser';
import type { ContainerCreateRequest, HostConfig } from '../../../client/types';
import { parseMemoryBytes } from '../../output/units';
import { StatusError } from '../../command';
import { applyExtraCreateFlags, EXTRA_CREATE_FLAGS } from './create-options-extra';
import { parsePortSpecs } from './publish-specs';

/** Flags shared by `run` and `create` (docker's container options). */
export const CREATE_FLAGS = {
  attach: { kind: 'strings', short: 'a', description: 'Attach to STDIN, STDOUT or STDERR' },
  'add-host': { kind: 'strings', description: 'Add a custom host-to-IP mapping (host:ip)' },
  'cap-add': { kind: 'strings', description: 'Add Linux capabilities' },
  'cap-drop': { kind: 'strings', description: 'Drop Linux capabilities' },
  'cpu-shares': { kind: 'int', short: 'c', description: 'CPU shares (relative weight)' },
  cpus: { kind: 'string', description: 'Number of CPUs', valueName: 'decimal' },
  'cpuset-cpus': { kind: 'string', description: 'CPUs in which to allow execution (0-3, 0,1)' },
  dns: { kind: 'strings', description: 'Set custom DNS servers' },
  entrypoint: { kind: 'string', description: 'Overwrite the default ENTRYPOINT of the image' },
  env: { kind: 'strings', short: 'e', description: 'Set environment variables' },
  'env-file': { kind: 'strings', description: 'Read in a file of environment variables' },
  expose: { kind: 'strings', description: 'Expose a port or a range of ports' },
  hostname: { kind: 'string', short: 'h', description: 'Container host name' },
  init: { kind: 'bool', description: 'Run an init inside the container that forwards signals and reaps processes' },
  interactive: { kind: 'bool', short: 'i', description: 'Keep STDIN open even if not attached' },
  label: { kind: 'strings', short: 'l', description: 'Set meta data on a container' },
  'log-driver': { kind: 'string', description: 'Logging driver for the container (json-file, local, none)' },
  'log-opt': { kind: 'strings', description: 'Log driver options (max-size, max-file, ...)' },
  memory: { kind: 'string', short: 'm', description: 'Memory limit', valueName: 'bytes' },
  'memory-swap': { kind: 'string', description: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", valueName: 'bytes' },
  name: { kind: 'string', description: 'Assign a name to the container' },
  network: { kind: 'string', aliases: ['net'], description: 'Connect a container to a network', valueName: 'network' },
  'pids-limit': { kind: 'int', description: 'Tune container pids limit (set -1 for unlimited)' },
  platform: { kind: 'string', description: 'Set platform if server is multi-platform capable' },
  privileged: { kind: 'bool', description: 'Give extended privileges to this container' },
  publish: { kind: 'strings', short: 'p', description: "Publish a container's port(s) to the host" },
  'read-only': { kind: 'bool', description: "Mount the container's root filesystem as read only" },
  restart: { kind: 'string', description: 'Restart policy to apply when a container exits', default: 'no' },
  rm: { kind: 'bool', description: 'Automatically remove the container and its associated anonymous volumes when it exits' },
  'security-opt': { kind: 'strings', description: 'Security Options' },
  'shm-size': { kind: 'string', description: 'Size of /dev/shm', valueName: 'bytes' },
  'stop-signal': { kind: 'string', description: 'Signal to stop the container' },
  'stop-timeout': { kind: 'int', description: 'Timeout (in seconds) to stop a container' },
  tmpfs: { kind: 'strings', description: 'Mount a tmpfs directory' },
  tty: { kind: 'bool', short: 't', description: 'Allocate a pseudo-TTY' },
  user: { kind: 'string', short: 'u', description: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  volume: { kind: 'strings', short: 'v', description: 'Bind mount a volume' },
  workdir: { kind: 'string', short: 'w', description: 'Working directory inside the container' },
  quiet: { kind: 'bool', short: 'q', description: 'Suppress the pull output' },
  pull: { kind: 'string', description: 'Pull image before creating ("always", "missing", "never")', default: 'missing' },
  ...EXTRA_CREATE_FLAGS,
} as const;

export type CreateFlags = ParsedFlags<typeof CREATE_FLAGS>;

/** `NAME` takes NAME's value from our environment; undefined when unset (an env file then skips it). */
function expandEnv(entry: string): string | undefined {
  if (entry.includes('=')) return entry;
  const value = process.env[entry];
  return value === undefined ? undefined : `${entry}=${value}`;
}

export function readEnvFile(file: string): string[] {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  const result: string[] = [];
  for (const raw of lines) {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const expanded = expandEnv(line);
    if (expanded !== undefined) result.push(expanded);
  }
  return result;
}

export function parseRestart(policy: string): HostConfig['RestartPolicy'] {
  const [name, count] = policy.split(':') as [string, string?];
  if (!['no', 'always', 'on-failure', 'unless-stopped', ''].includes(name)) throw new StatusError(125, `invalid restart policy: ${name}`);
  return { Name: name as NonNullable<HostConfig['RestartPolicy']>['Name'], MaximumRetryCount: count === undefined ? 0 : Number(count) };
}

/** `--log-opt k=v` pairs (docker's parseLoggingOpts: a bare key has an empty value). */
function parseLogConfig(driver: string | undefined, opts: string[]): NonNullable<HostConfig['LogConfig']> {
  if (driver === 'none' && opts.length > 0) throw new StatusError(125, 'invalid logging opts for driver none');
  const config: Record<string, string> = {};
  for (const opt of opts) {
    const eq = opt.indexOf('=');
    config[eq === -1 ? opt : opt.slice(0, eq)] = eq === -1 ? '' : opt.slice(eq + 1);
  }
  return { Type: driver ?? '', Config: config };
}

export function parseCpus(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new StatusError(125, `invalid argument "${text}" for "--cpus" flag: failed to parse ${text} as a rational number`);
  return Math.round(value * 1e9);
}

/** Builds the POST /containers/create body from run/create flags and `IMAGE [CMD...]`. */
export function buildCreateRequest(flags: CreateFlags, args: string[], detach: boolean): ContainerCreateRequest {
  const [image, ...cmd] = args as [string, ...string[]];
  // As docker 28: `-e NAME` unset on our side is sent bare (the daemon then unsets NAME), and a
  // key given twice keeps its first place with its last value.
  const byKey = new Map<string, string>();
  for (const entry of [...flags['env-file'].flatMap(readEnvFile), ...flags.env.map((e) => expandEnv(e) ?? e)]) byKey.set(entry.split('=', 1)[0]!, entry);
  const env = [...byKey.values()];
  const labels: Record<string, string> = {};
  for (const label of flags.label) {
    const eq = label.indexOf('=');
    labels[eq === -1 ? label : label.slice(0, eq)] = eq === -1 ? '' : label.slice(eq + 1);
  }
  const attach = new Set(flags.attach.map((s) => s.toLowerCase()));
  for (const stream of attach) {
    if (!['stdin', 'stdout', 'stderr'].includes(stream)) throw new StatusError(125, `invalid argument "${stream}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
  }
  if (detach && attach.size > 0) throw new StatusError(125, 'Conflicting options: -a and -d');
  let attachStdin = attach.has('stdin');
  let attachStdout = attach.has('stdout');
  let attachStderr = attach.has('stderr');
  if (attach.size === 0 && !detach) {
    attachStdout = true;
    attachStderr = true;
    attachStdin = flags.interactive;
  }
  const binds: string[] = [];
  const volumes: Record<string, Record<string, never>> = {};
  for (const spec of flags.volume) {
    if (spec.includes(':')) binds.push(spec);
    else volumes[spec] = {};
  }
  const tmpfs: Record<string, string> = {};
  for (const spec of flags.tmpfs) {
    const colon = spec.indexOf(':');
    tmpfs[colon === -1 ? spec : spec.slice(0, colon)] = colon === -1 ? '' : spec.slice(colon + 1);
  }
  const ports = parsePortSpecs(flags.publish, flags.expose);
  const hostConfig: HostConfig = {
    Binds: binds.length > 0 ? binds : null,
    NetworkMode: flags.network ?? 'default',
    PortBindings: ports.bindings,
    RestartPolicy: parseRestart(flags.restart),
    AutoRemove: flags.rm,
    CapAdd: flags['cap-add'].length > 0 ? flags['cap-add'] : null,
    CapDrop: flags['cap-drop'].length > 0 ? flags['cap-drop'] : null,
    Dns: flags.dns.length > 0 ? flags.dns : null,
    ExtraHosts: flags['add-host'].length > 0 ? flags['add-host'] : null,
    Privileged: flags.privileged,
    ReadonlyRootfs: flags['read-only'],
    SecurityOpt: flags['security-opt'].length > 0 ? flags['security-opt'] : null,
    Tmpfs: Object.keys(tmpfs).length > 0 ? tmpfs : null,
    Init: flags.init ? true : null,
    LogConfig: parseLogConfig(flags['log-driver'], flags['log-opt']),
  };
  if (flags.memory !== undefined) hostConfig.Memory = parseMemoryBytes(flags.memory);
  if (flags['memory-swap'] !== undefined) hostConfig.MemorySwap = flags['memory-swap'] === '-1' ? -1 : parseMemoryBytes(flags['memory-swap']);
  if (flags.cpus !== undefined) hostConfig.NanoCpus = parseCpus(flags.cpus);
  if (flags['cpu-shares'] !== undefined) hostConfig.CpuShares = flags['cpu-shares'];
  if (flags['cpuset-cpus'] !== undefined) hostConfig.CpusetCpus = flags['cpuset-cpus'];
  if (flags['pids-limit'] !== undefined) hostConfig.PidsLimit = flags['pids-limit'];
  if (flags['shm-size'] !== undefined) hostConfig.ShmSize = parseMemoryBytes(flags['shm-size']);

  const request: ContainerCreateRequest = {
    Hostname: flags.hostname ?? '',
    User: flags.user ?? '',
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    ExposedPorts: Object.keys(ports.exposed).length > 0 ? ports.exposed : undefined,
    Tty: flags.tty,
    OpenStdin: flags.interactive,
    StdinOnce: attachStdin && !detach,
    Env: env,
    Cmd: cmd.length > 0 ? cmd : null,
    Image: image,
    Volumes: Object.keys(volumes).length > 0 ? volumes : undefined,
    WorkingDir: flags.workdir ?? '',
    Entrypoint: flags.entrypoint === undefined ? undefined : flags.entrypoint === '' ? [''] : [flags.entrypoint],
    Labels: labels,
    HostConfig: hostConfig,
  };
  if (flags['stop-signal'] !== undefined) request.StopSignal = flags['stop-signal'];
  if (flags['stop-timeout'] !== undefined) request.StopTimeout = flags['stop-timeout'];
  applyExtraCreateFlags(flags, request);
  return request;
}
