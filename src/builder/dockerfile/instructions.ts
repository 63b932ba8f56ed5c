// Typed instructions: parsed nodes → one record per instruction with validated flags, grouped into
// stages. This is what the executor consumes; variables are left unexpanded here (except FROM,
// which only sees global ARGs) because their values depend on the step's env and build args.
import { DockerfileError } from './errors.js';
import { parseDockerfile, type Heredoc, type ParsedNode } from './parser.js';
import { envLookup, processWord, ShellWordError } from './shell-words.js';
import { isPredefinedArg } from './stages.js';

export interface Lines { start: number; end: number }
interface Base { lines: Lines; original: string }
/** A command in exec form (json: true, argv) or shell form (one string run through SHELL). */
export interface CommandLine { json: boolean; args: string[] }
export interface MountSpec { type: 'bind' | 'cache' | 'secret' | 'tmpfs' | 'ssh'; options: Record<string, string> }
export interface HealthcheckSpec {
  test: string[];                       // Docker's form: ["NONE"], ["CMD", ...] or ["CMD-SHELL", cmd]
  intervalNs?: number; timeoutNs?: number; startPeriodNs?: number; startIntervalNs?: number; retries?: number;
}

export type Instruction = Base & (
  | { kind: 'from'; image: string; stageName?: string; platform?: string }
  | { kind: 'run'; command: CommandLine; mounts: MountSpec[]; network?: string; security?: string; heredocs: Heredoc[] }
  | { kind: 'cmd' | 'entrypoint'; command: CommandLine }
  | { kind: 'shell'; shell: string[] }
  | { kind: 'env' | 'label'; pairs: [string, string][]; /** Values taken as they are, not expanded (the API's `labels`). */ literal?: boolean }
  | { kind: 'arg'; args: { name: string; default?: string }[] }
  | { kind: 'expose' | 'volume'; values: string[] }
  | { kind: 'workdir' | 'user' | 'stopsignal' | 'maintainer'; value: string }
  | { kind: 'healthcheck'; healthcheck: HealthcheckSpec }
  | { kind: 'onbuild'; trigger: string }
  | { kind: 'copy' | 'add'; sources: string[]; dest: string; heredocs: Heredoc[]; from?: string; chown?: string;
      chmod?: string; link: boolean; checksum?: string; keepGitDir?: boolean; exclude: string[]; parents: boolean }
);

export interface Stage {
  index: number;
  name?: string;
  from: Extract<Instruction, { kind: 'from' }>;
  instructions: Instruction[];
}

export interface DockerfilePlan {
  file: string;
  escapeToken: string;
  directives: Record<string, string>;
  /** ARGs declared before the first FROM; their values are visible to FROM lines only. */
  globalArgs: { name: string; default?: string }[];
  stages: Stage[];
  warnings: string[];
}

type FlagKind = 'string' | 'bool' | 'list';
const FLAGS: Record<string, Record<string, FlagKind>> = {
  from: { platform: 'string' },
  run: { mount: 'list', network: 'string', security: 'string' },
  copy: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'list' },
  add: { chown: 'string', chmod: 'string', link: 'bool', checksum: 'string', 'keep-git-dir': 'bool', exclude: 'list' },
  healthcheck: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
};
const KNOWN = new Set(['from', 'run', 'cmd', 'entrypoint', 'shell', 'env', 'label', 'arg', 'expose', 'volume', 'workdir',
  'user', 'stopsignal', 'maintainer', 'healthcheck', 'onbuild', 'copy', 'add']);

/** Parses and types a Dockerfile. Errors name `file:line`. */
export function buildPlan(text: string, file = 'Dockerfile', buildArgs: Record<string, string> = {}): DockerfilePlan {
  const parsed = parseDockerfile(text, file);
  const plan: DockerfilePlan = { file, escapeToken: parsed.escapeToken, directives: parsed.directives, globalArgs: [], stages: [], warnings: parsed.warnings };
  // Predefined ARGs (platform, proxies) are visible to FROM without being declared.
  const globalEnv: Record<string, string> = Object.fromEntries(Object.entries(buildArgs).filter(([k]) => isPredefinedArg(k)));
  for (const node of parsed.nodes) {
    const inst = typeInstruction(node, file);
    if (inst.kind === 'arg' && plan.stages.length === 0) {
      for (const a of inst.args) {
        plan.globalArgs.push(a);
        const v = buildArgs[a.name] ?? (a.default !== undefined ? expand(a.default, globalEnv, parsed.escapeToken, file, node) : undefined);
        if (v !== undefined) globalEnv[a.name] = v;
      }
      continue;
    }
    if (inst.kind === 'from') {
      inst.image = expand(inst.image, globalEnv, parsed.escapeToken, file, node);
      if (inst.platform !== undefined) inst.platform = expand(inst.platform, globalEnv, parsed.escapeToken, file, node);
      if (inst.image === '') throw new DockerfileError(file, node.startLine, 'base name (' + node.args[0] + ') should not be blank');
      if (inst.stageName !== undefined && plan.stages.some((s) => s.name === inst.stageName)) {
        throw new DockerfileError(file, node.startLine, `duplicate stage name "${inst.stageName}"`);
      }
      plan.stages.push({ index: plan.stages.length, name: inst.stageName, from: inst, instructions: [] });
      continue;
    }
    if (plan.stages.length === 0) throw new DockerfileError(file, node.startLine, `no build stage in current context: ${node.cmd.toUpperCase()} before FROM`);
    plan.stages[plan.stages.length - 1].instructions.push(inst);
  }
  if (plan.stages.length === 0) throw new DockerfileError(file, parsed.nodes.at(-1)?.endLine ?? 1, 'file with no instructions');
  return plan;
}

function expand(word: string, env: Record<string, string>, escape: string, file: string, node: ParsedNode): string {
  try { return processWord(word, envLookup(env), escape); } catch (e) {
    if (e instanceof ShellWordError) throw new DockerfileError(file, node.startLine, e.message);
    throw e;
  }
}

export function typeInstruction(node: ParsedNode, file: string): Instruction {
  const fail = (msg: string): never => { throw new DockerfileError(file, node.startLine, msg); };
  const upper = node.cmd.toUpperCase();
  if (!KNOWN.has(node.cmd)) fail(`unknown instruction: ${upper}`);
  const flags = readFlags(node, FLAGS[node.cmd] ?? {}, fail);
  const base = { lines: { start: node.startLine, end: node.endLine }, original: node.original };
  const a = node.args;
  const need = (n: number, what = 'argument'): void => { if (a.length < n) fail(`${upper} requires at least ${n === 1 ? 'one' : 'two'} ${what}${n === 1 ? '' : 's'}`); };
  switch (node.cmd) {
    case 'from': {
      if (a.length !== 1 && a.length !== 3) fail('FROM requires either one or three arguments');
      if (a.length === 3 && a[1].toLowerCase() !== 'as') fail('FROM requires either one or three arguments');
      const stageName = a.length === 3 ? a[2].toLowerCase() : undefined;
      if (stageName !== undefined && !/^[a-z][a-z0-9_.-]*$/.test(stageName)) fail(`invalid name for build stage: "${a[2]}", name can't start with a number or contain symbols`);
      return { ...base, kind: 'from', image: a[0], stageName, platform: flags.platform as string | undefined };
    }
    case 'run': {
      if (a.length === 0 && node.heredocs.length === 0) need(1);
      const mounts = ((flags.mount as string[] | undefined) ?? []).map((m) => parseMount(m, fail));
      const net = flags.network as string | undefined;
      if (net !== undefined && !['default', 'none', 'host'].includes(net)) fail(`unsupported network mode "${net}": use default, none or host`);
      return { ...base, kind: 'run', command: { json: node.json, args: a }, mounts, network: flags.network as string | undefined,
        security: flags.security as string | undefined, heredocs: node.heredocs };
    }
    case 'cmd': case 'entrypoint':
      return { ...base, kind: node.cmd, command: { json: node.json, args: a } };
    case 'shell':
      if (!node.json) fail('SHELL requires the arguments to be in JSON form');
      if (a.length === 0) fail('SHELL requires at least one argument');
      return { ...base, kind: 'shell', shell: a };
    case 'env': case 'label': {
      need(1);
      const pairs: [string, string][] = [];
      for (let i = 0; i + 1 < a.length; i += 2) pairs.push([a[i], a[i + 1]]);
      return { ...base, kind: node.cmd, pairs };
    }
    case 'arg': {
      need(1);
      return { ...base, kind: 'arg', args: a.map((w) => {
        const eq = w.indexOf('=');
        return eq < 0 ? { name: w } : { name: w.slice(0, eq), default: w.slice(eq + 1) };
      }) };
    }
    case 'expose': case 'volume':
      need(1);
      return { ...base, kind: node.cmd, values: a };
    case 'workdir': case 'user': case 'stopsignal': case 'maintainer':
      if (a.length !== 1) fail(`${upper} requires exactly one argument`);
      return { ...base, kind: node.cmd, value: a[0] };
    case 'healthcheck':
      return { ...base, kind: 'healthcheck', healthcheck: healthcheck(node, flags, fail) };
    case 'onbuild': {
      if (!node.child) fail('ONBUILD requires at least one argument');
      const t = node.child!.cmd;
      if (t === 'onbuild') fail('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (t === 'from' || t === 'maintainer') fail(`${t.toUpperCase()} isn't allowed as an ONBUILD trigger`);
      typeInstruction(node.child!, file); // validate the trigger now, not in the child build
      return { ...base, kind: 'onbuild', trigger: node.original.trim().replace(/^\S+\s+/, '') };
    }
    case 'copy': case 'add': {
      if (a.length < 2) fail(`${upper} requires at least two arguments, but only ${a.length} provided`);
      if (node.cmd === 'copy' && flags.from === '') fail('COPY --from requires a value');
      return { ...base, kind: node.cmd, sources: a.slice(0, -1), dest: a[a.length - 1], heredocs: node.heredocs,
        from: flags.from as string | undefined, chown: flags.chown as string | undefined, chmod: flags.chmod as string | undefined,
        link: flags.link === true, checksum: flags.checksum as string | undefined,
        ...(node.cmd === 'add' ? { keepGitDir: flags['keep-git-dir'] === true } : {}),
        exclude: (flags.exclude as string[] | undefined) ?? [], parents: flags.parents === true };
    }
  }
  return fail(`unknown instruction: ${upper}`);
}

function readFlags(node: ParsedNode, allowed: Record<string, FlagKind>, fail: (m: string) => never): Record<string, string | boolean | string[]> {
  const out: Record<string, string | boolean | string[]> = {};
  for (const f of node.flags) {
    const body = f.replace(/^--/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? undefined : body.slice(eq + 1);
    const kind = allowed[name];
    if (!kind) fail(`unknown flag: --${name}`);
    if (kind === 'bool') {
      if (value !== undefined && value !== 'true' && value !== 'false') fail(`expecting boolean value for flag --${name}, not: ${value}`);
      out[name] = value !== 'false';
    } else if (value === undefined) {
      fail(`missing a value on flag: --${name}`);
    } else if (kind === 'list') {
      out[name] = [...((out[name] as string[] | undefined) ?? []), value];
    } else {
      if (name in out) fail(`duplicate flag specified: --${name}`);
      out[name] = value;
    }
  }
  return out;
}

const MOUNT_TYPES = new Set(['bind', 'cache', 'secret', 'tmpfs', 'ssh']);
const MOUNT_KEYS = new Set(['type', 'target', 'dst', 'destination', 'source', 'src', 'from', 'id', 'readonly', 'ro', 'rw',
  'readwrite', 'mode', 'uid', 'gid', 'sharing', 'required', 'size', 'env']);

function parseMount(spec: string, fail: (m: string) => never): MountSpec {
  const options: Record<string, string> = {};
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (!MOUNT_KEYS.has(key)) fail(`unexpected key '${key}' in '${part}'`);
    options[key === 'dst' || key === 'destination' ? 'target' : key === 'src' ? 'source' : key] = eq < 0 ? 'true' : part.slice(eq + 1);
  }
  const type = options.type ?? 'bind';
  delete options.type;
  if (!MOUNT_TYPES.has(type)) fail(`unsupported mount type "${type}"`);
  if ((type === 'bind' || type === 'cache' || type === 'tmpfs') && !options.target) fail(`mount type ${type} requires a target`);
  if (type === 'secret' && !options.id && !options.target) fail('mount type secret requires an id or a target');
  if (options.sharing && !['shared', 'private', 'locked'].includes(options.sharing)) fail(`unsupported sharing value "${options.sharing}"`);
  return { type: type as MountSpec['type'], options };
}

function healthcheck(node: ParsedNode, flags: Record<string, unknown>, fail: (m: string) => never): HealthcheckSpec {
  const [type, ...rest] = node.args;
  const t = (type ?? '').toUpperCase();
  if (t === 'NONE') {
    if (rest.length > 0 || node.flags.length > 0) fail('HEALTHCHECK NONE takes no arguments');
    return { test: ['NONE'] };
  }
  if (t !== 'CMD') fail(`Unknown type "${type ?? ''}" in HEALTHCHECK (try CMD)`);
  if (rest.length === 0) fail('Missing command after HEALTHCHECK CMD');
  const spec: HealthcheckSpec = { test: node.json ? ['CMD', ...rest] : ['CMD-SHELL', rest[0]] };
  const dur = (name: string): number | undefined => {
    const v = flags[name] as string | undefined;
    if (v === undefined) return undefined;
    const ns = parseGoDuration(v);
    if (ns === null) fail(`invalid duration for --${name}: ${v}`);
    if (ns! !== 0 && ns! < 1_000_000) fail(`Interval "${name}" cannot be less than 1ms`);
    return ns!;
  };
  const set = <K extends keyof HealthcheckSpec>(k: K, v: HealthcheckSpec[K] | undefined): void => { if (v !== undefined) spec[k] = v; };
  set('intervalNs', dur('interval'));
  set('timeoutNs', dur('timeout'));
  set('startPeriodNs', dur('start-period'));
  set('startIntervalNs', dur('start-interval'));
  if (flags.retries !== undefined) {
    const r = Number(flags.retries);
    if (!Number.isInteger(r) || r < 0) fail(`--retries must be a non-negative integer, not ${String(flags.retries)}`);
    spec.retries = r;
  }
  return spec;
}

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration for the unsigned forms Docker accepts (`1m30s`, `500ms`, `0`). */
export function parseGoDuration(s: string): number | null {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = re.exec(s)) !== null) { total += parseFloat(m[1]) * UNIT_NS[m[2]]; pos = re.lastIndex; }
  return pos === s.length && s.length > 0 ? Math.round(total) : null;
}
