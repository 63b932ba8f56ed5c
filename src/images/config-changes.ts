import { invalidArgument } from '../errors';
import type { ImageRunConfig } from './models';

/**
 * `docker commit --change` and `docker import --change`: Dockerfile instructions that
 * edit the image's runtime config. Docker allows CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
 * ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR (and HEALTHCHECK, SHELL in builds).
 */
const ALLOWED = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']);

export function applyConfigChanges(base: ImageRunConfig, changes: readonly string[]): ImageRunConfig {
  const config: ImageRunConfig = structuredClone(base);
  for (const change of changes) {
    const trimmed = change.trim();
    if (trimmed === '') continue;
    const m = /^(\S+)\s*([\s\S]*)$/.exec(trimmed);
    if (!m) continue;
    const instruction = m[1].toUpperCase();
    const rest = m[2].trim();
    if (!ALLOWED.has(instruction)) throw invalidArgument(`${m[1].toLowerCase()} is not a valid change command`);
    switch (instruction) {
      case 'CMD':
        config.Cmd = commandForm(rest, config.Shell);
        break;
      case 'ENTRYPOINT':
        config.Entrypoint = commandForm(rest, config.Shell);
        break;
      case 'ENV': {
        const env = [...(config.Env ?? [])];
        for (const [key, value] of keyValues(rest, 'ENV')) {
          const i = env.findIndex((e) => e.split('=', 1)[0] === key);
          if (i >= 0) env[i] = `${key}=${value}`;
          else env.push(`${key}=${value}`);
        }
        config.Env = env;
        break;
      }
      case 'LABEL': {
        const labels = { ...(config.Labels ?? {}) };
        for (const [key, value] of keyValues(rest, 'LABEL')) labels[key] = value;
        config.Labels = labels;
        break;
      }
      case 'EXPOSE': {
        const ports = { ...(config.ExposedPorts ?? {}) };
        for (const p of words(rest)) ports[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
        config.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const volumes = { ...(config.Volumes ?? {}) };
        for (const v of rest.startsWith('[') ? jsonArray(rest) : words(rest)) volumes[v] = {};
        config.Volumes = volumes;
        break;
      }
      case 'ONBUILD':
        config.OnBuild = [...(config.OnBuild ?? []), rest];
        break;
      case 'STOPSIGNAL':
        config.StopSignal = rest;
        break;
      case 'USER':
        config.User = rest;
        break;
      case 'WORKDIR':
        config.WorkingDir = rest.startsWith('/') || !config.WorkingDir ? rest : `${config.WorkingDir.replace(/\/$/, '')}/${rest}`;
        break;
    }
  }
  return config;
}

function commandForm(rest: string, shell: string[] | undefined): string[] {
  if (rest.startsWith('[')) {
    try {
      return jsonArray(rest);
    } catch {
      // Docker falls back to shell form when the JSON does not parse.
    }
  }
  return [...(shell ?? ['/bin/sh', '-c']), rest];
}

function jsonArray(text: string): string[] {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw invalidArgument(`not a JSON array of strings: ${text}`);
  return value as string[];
}

/** Shell-like words with "..." and '...' quoting and backslash escapes. */
export function words(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(current);
      current = '';
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (quote) throw invalidArgument(`unmatched quote in ${JSON.stringify(text)}`);
  if (inWord) out.push(current);
  return out;
}

/** `ENV a=b c="d e"` or the legacy `ENV key value with spaces`. */
function keyValues(rest: string, instruction: string): Array<[string, string]> {
  const parts = words(rest);
  if (parts.length === 0) throw invalidArgument(`${instruction} requires at least one argument`);
  if (!parts[0].includes('=')) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(rest);
    if (!m) throw invalidArgument(`${instruction} must have two arguments`);
    return [[m[1], m[2]]];
  }
  return parts.map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0) throw invalidArgument(`${instruction} names can not be blank`);
    return [p.slice(0, eq), p.slice(eq + 1)];
  });
}
