import type { HealthConfig, ImageRunConfig } from '../../images/models';
import type { Instruction } from '../dockerfile/instructions';
import { goDuration, goList, goQuoteList, goQuoteRune } from './go-format';

/** Expands a word against the step's ENV and ARGs (moby's shell lexer); `words` also splits on blanks. */
export interface WordExpander {
  word(w: string): string;
  words(w: string): string[];
}

export interface ConfigStep {
  runConfig: ImageRunConfig;
  /** The `#(nop)` comment moby commits for the step (its history's created_by after the shell). */
  comment: string;
  author?: string;
}

export const DEFAULT_SHELL = ['/bin/sh', '-c'];
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function shellOf(runConfig: ImageRunConfig): string[] {
  return runConfig.Shell && runConfig.Shell.length > 0 ? runConfig.Shell : DEFAULT_SHELL;
}

/** A CMD/ENTRYPOINT/RUN command line: exec form as is, shell form through SHELL. */
export function commandLine(command: { json: boolean; args: string[] }, runConfig: ImageRunConfig): string[] {
  return command.json ? [...command.args] : [...shellOf(runConfig), command.args.join(' ')];
}

/** Sets `KEY=value` in an env list: replaced in place when the key exists, else appended. */
export function setEnv(env: readonly string[], key: string, value: string): string[] {
  const out = [...env];
  const i = out.findIndex((kv) => kv.split('=', 1)[0] === key);
  if (i >= 0) out[i] = `${key}=${value}`;
  else out.push(`${key}=${value}`);
  return out;
}

/** WORKDIR resolved as moby's normalizeWorkdir: relative to the current one, cleaned. */
export function resolveWorkdir(current: string | undefined, requested: string): string {
  const joined = requested.startsWith('/') ? requested : `${current || '/'}/${requested}`;
  const parts: string[] = [];
  for (const p of joined.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return '/' + parts.join('/');
}

/**
 * The config change of an instruction that runs nothing (ENV, LABEL, EXPOSE, VOLUME, USER,
 * WORKDIR's config part, STOPSIGNAL, SHELL, CMD, ENTRYPOINT, HEALTHCHECK, ONBUILD,
 * MAINTAINER), with moby's history comment. `cmdSet`: CMD came earlier in this stage (an
 * ENTRYPOINT then keeps it, else clears the inherited one).
 */
export function applyConfigStep(inst: Instruction, current: ImageRunConfig, x: WordExpander, cmdSet: boolean): ConfigStep {
  const rc: ImageRunConfig = { ...current };
  switch (inst.kind) {
    case 'env': {
      let env = rc.Env ?? [];
      const shown: string[] = [];
      for (const [k, v] of inst.pairs) {
        const key = x.word(k);
        const value = x.word(v);
        env = setEnv(env, key, value);
        shown.push(`${key}=${value}`);
      }
      rc.Env = env;
      return { runConfig: rc, comment: `ENV ${shown.join(' ')}` };
    }
    case 'label': {
      const labels = { ...(rc.Labels ?? {}) };
      const shown: string[] = [];
      for (const [k, v] of inst.pairs) {
        const key = inst.literal ? k : x.word(k);
        const value = inst.literal ? v : x.word(v);
        labels[key] = value;
        shown.push(`${key}=${value}`);
      }
      rc.Labels = sortedKeys(labels);
      return { runConfig: rc, comment: `LABEL ${shown.join(' ')}` };
    }
    case 'expose': {
      // moby sorts the words as written (sort.Strings at parse time), then expands them.
      const ports = [...inst.values].sort(byBytes).flatMap((v) => x.words(v));
      const exposed = { ...(rc.ExposedPorts ?? {}) };
      for (const p of ports) for (const key of portKeys(p)) exposed[key] = {};
      rc.ExposedPorts = sortedKeys(exposed);
      return { runConfig: rc, comment: `EXPOSE ${ports.join(' ')}` };
    }
    case 'volume': {
      const vols = inst.values.flatMap((v) => x.words(v));
      const volumes = { ...(rc.Volumes ?? {}) };
      for (const v of vols) {
        if (v.trim() === '') throw new Error('VOLUME specified can not be an empty string');
        volumes[v] = {};
      }
      rc.Volumes = sortedKeys(volumes);
      return { runConfig: rc, comment: `VOLUME ${goList(vols)}` };
    }
    case 'user':
      rc.User = x.word(inst.value);
      return { runConfig: rc, comment: `USER ${rc.User}` };
    case 'workdir':
      rc.WorkingDir = resolveWorkdir(rc.WorkingDir, x.word(inst.value));
      return { runConfig: rc, comment: `WORKDIR ${rc.WorkingDir}` };
    case 'stopsignal': {
      const sig = x.word(inst.value);
      if (!isSignal(sig)) throw new Error(`Invalid signal: ${sig}`);
      rc.StopSignal = sig;
      return { runConfig: rc, comment: `STOPSIGNAL ${sig}` };
    }
    case 'shell':
      rc.Shell = [...inst.shell];
      // fmt.Sprintf("SHELL %v", shell): the words unquoted.
      return { runConfig: rc, comment: `SHELL ${goList(rc.Shell)}` };
    case 'cmd':
      rc.Cmd = commandLine(inst.command, current);
      return { runConfig: rc, comment: `CMD ${goQuoteList(rc.Cmd)}` };
    case 'entrypoint':
      rc.Entrypoint = commandLine(inst.command, current);
      if (!cmdSet) rc.Cmd = null;
      return { runConfig: rc, comment: `ENTRYPOINT ${goQuoteList(rc.Entrypoint)}` };
    case 'healthcheck': {
      const h = inst.healthcheck;
      const hc: HealthConfig = { Test: h.test };
      if (h.intervalNs) hc.Interval = h.intervalNs;
      if (h.timeoutNs) hc.Timeout = h.timeoutNs;
      if (h.startPeriodNs) hc.StartPeriod = h.startPeriodNs;
      if (h.startIntervalNs) hc.StartInterval = h.startIntervalNs;
      if (h.retries) hc.Retries = h.retries;
      rc.Healthcheck = hc;
      // fmt.Sprintf("HEALTHCHECK %q", *container.HealthConfig) as dockerd 20.10 has it.
      const shown = `&{${goQuoteList(hc.Test)} "${goDuration(hc.Interval ?? 0)}" "${goDuration(hc.Timeout ?? 0)}" "${goDuration(hc.StartPeriod ?? 0)}" ${goQuoteRune(hc.Retries ?? 0)}}`;
      return { runConfig: rc, comment: `HEALTHCHECK ${shown}` };
    }
    case 'onbuild':
      rc.OnBuild = [...(rc.OnBuild ?? []), inst.trigger];
      return { runConfig: rc, comment: `ONBUILD ${inst.trigger}` };
    case 'maintainer': {
      const author = x.word(inst.value);
      return { runConfig: rc, comment: `MAINTAINER ${author}`, author };
    }
    default:
      throw new Error(`${inst.kind.toUpperCase()} changes no config`);
  }
}

/** Go's encoding/json writes a map's keys sorted: so must berth, for the same config bytes. */
export function sortedKeys<T>(map: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => byBytes(a, b)));
}

function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** nat.ParsePortSpecs' keys: `80` → `80/tcp`, `8000-8002/udp` → each port of the range. */
export function portKeys(spec: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec);
  if (!m) throw new Error(`Invalid containerPort: ${spec}`);
  const start = Number(m[1]);
  const end = m[2] !== undefined ? Number(m[2]) : start;
  if (start > 65535 || end > 65535 || end < start) throw new Error(`Invalid containerPort: ${spec}`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

const SIGNALS = new Set(['ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR', 'QUIT',
  'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ']);

/** moby's signal.ParseSignal: a number, or a name with or without SIG (RTMIN+n too). */
function isSignal(s: string): boolean {
  if (/^\d+$/.test(s)) return Number(s) > 0 && Number(s) <= 64;
  const name = s.toUpperCase().replace(/^SIG/, '');
  return SIGNALS.has(name) || /^RTM(IN|AX)([+-]\d+)?$/.test(name);
}
