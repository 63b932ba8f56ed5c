import { EngineError, type ErrorKind } from '../../errors';
import { describeRegistryErrors, parseRegistryErrors, type RegistryErrorEntry } from '../errcodes';

export type { RegistryErrorEntry };

/**
 * A failure talking to a registry. The message names the registry and what failed, in
 * docker's words where docker has them (`Get "http://127.0.0.1:5000/v2/": dial tcp ...:
 * connect: connection refused`, `manifest unknown: manifest unknown`).
 */
export class RegistryError extends EngineError {
  readonly registry: string;
  /** The HTTP status the registry answered, when it answered. */
  readonly status?: number;
  /** The registry's error codes, when it sent them. */
  readonly entries: RegistryErrorEntry[];
  constructor(kind: ErrorKind, message: string, info: { registry: string; status?: number; entries?: RegistryErrorEntry[]; cause?: unknown }) {
    super(kind, message, { cause: info.cause });
    this.name = 'RegistryError';
    this.registry = info.registry;
    this.status = info.status;
    this.entries = info.entries ?? [];
  }
  get unauthorized(): boolean {
    return this.status === 401;
  }
  get denied(): boolean {
    return this.status === 403 || this.entries.some((e) => e.code === 'DENIED');
  }
  hasCode(code: string): boolean {
    return this.entries.some((e) => e.code === code);
  }
}

/** The kind (HTTP status class) of an error a registry answered with. */
function kindOfStatus(status: number): ErrorKind {
  if (status === 404) return 'NotFound';
  if (status === 401) return 'Unauthorized';
  if (status === 403) return 'Forbidden';
  if (status === 400 || status === 405 || status === 413 || status === 416) return 'InvalidArgument';
  if (status === 429 || status === 502 || status === 503 || status === 504) return 'Unavailable';
  return 'Internal';
}

/**
 * The error for an unexpected status. With distribution error codes, docker's
 * "<code>: <message>"; otherwise the status and the request, like docker's
 * `unexpected status from GET request to http://...: 500 Internal Server Error`.
 */
export function statusError(registry: string, method: string, url: URL, status: number, statusText: string, body: Buffer): RegistryError {
  const entries = parseRegistryErrors(body) ?? [];
  const described = entries.length > 0 ? describeRegistryErrors(entries) : undefined;
  const message =
    described ??
    (status === 401
      ? `unauthorized: authentication required for ${registry}`
      : `unexpected status from ${method} request to ${url.href}: ${status} ${statusText}`.trimEnd());
  return new RegistryError(kindOfStatus(status), message, { registry, status, entries });
}

/** A registry's answer that breaks the protocol (garbage JSON, wrong digest, ...). */
export function badAnswer(registry: string, what: string, cause?: unknown): RegistryError {
  return new RegistryError('Internal', `registry ${registry} answered badly: ${what}`, { registry, cause });
}
