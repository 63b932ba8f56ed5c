import { invalidArgument } from '../../errors';
import type { Filters } from '../types/common';

/**
 * Query parameters read the way moby's httputils does: booleans are true unless empty, "0",
 * "no", "false" or "none"; integers must parse; filters are JSON in either Docker form.
 */
export class Query {
  constructor(private readonly params: URLSearchParams) {}

  has(key: string): boolean {
    return this.params.has(key);
  }

  string(key: string): string | undefined {
    const value = this.params.get(key);
    return value === null ? undefined : value;
  }

  /** A non-empty string, or undefined. */
  nonEmpty(key: string): string | undefined {
    const value = this.params.get(key);
    return value === null || value === '' ? undefined : value;
  }

  all(key: string): string[] {
    return this.params.getAll(key);
  }

  bool(key: string, fallback = false): boolean {
    const raw = this.params.get(key);
    if (raw === null) return fallback;
    const value = raw.trim().toLowerCase();
    return !(value === '' || value === '0' || value === 'no' || value === 'false' || value === 'none');
  }

  /** An integer, or undefined when absent or empty; 400 when it does not parse. */
  int(key: string): number | undefined {
    const raw = this.params.get(key);
    if (raw === null || raw === '') return undefined;
    if (!/^[-+]?\d+$/.test(raw.trim())) throw invalidArgument(`invalid value for ${key}: ${raw}`);
    return parseInt(raw, 10);
  }

  /** Unix seconds with optional fraction ("1700000000.123456789"), as in since/until. */
  unixTime(key: string): number | undefined {
    const raw = this.params.get(key);
    if (raw === null || raw === '') return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value)) throw invalidArgument(`invalid value for ${key}: ${raw}`);
    return value;
  }

  filters(key = 'filters'): Filters {
    return parseFilters(this.params.get(key) ?? '');
  }
}

/** moby's filters.FromJSON: {"k":["v"]} or the legacy {"k":{"v":true}}. */
export function parseFilters(json: string): Filters {
  if (json.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err: unknown) {
    throw invalidArgument(`invalid filter: ${json}`, err);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalidArgument(`invalid filter: ${json}`);
  }
  const filters: Filters = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(value)) {
      filters[key] = value.map((v) => String(v));
    } else if (value !== null && typeof value === 'object') {
      filters[key] = Object.entries(value as Record<string, unknown>)
        .filter(([, enabled]) => enabled === true)
        .map(([v]) => v);
    } else {
      throw invalidArgument(`invalid filter: ${json}`);
    }
  }
  return filters;
}
