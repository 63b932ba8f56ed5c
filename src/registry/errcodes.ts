/**
 * The registry error-code table of the distribution spec (distribution's registry/api/errcode
 * and registry/api/v2/errors.go, the OCI distribution spec's "Error Codes"): code, HTTP status
 * and default message. The server answers with it; the client reads `{errors:[...]}` bodies
 * with it. Messages are distribution's, because docker and skopeo print them verbatim.
 */

export const REGISTRY_ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown' },
  MANIFEST_UNVERIFIED: { status: 400, message: 'manifest failed signature verification' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  TAG_INVALID: { status: 400, message: 'manifest tag did not match URI' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  RANGE_INVALID: { status: 416, message: 'invalid content range' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'The operation is unsupported.' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  UNKNOWN: { status: 500, message: 'unknown error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type RegistryErrorCode = keyof typeof REGISTRY_ERROR_CODES;

/** One entry of a registry error body, as on the wire. */
export interface RegistryErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

/** The wire shape of every registry error response. */
export interface RegistryErrorBody {
  errors: RegistryErrorEntry[];
}

export function isRegistryErrorCode(code: unknown): code is RegistryErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(REGISTRY_ERROR_CODES, code);
}

/** The HTTP status distribution answers with for `code`. */
export function statusOf(code: RegistryErrorCode): number {
  return REGISTRY_ERROR_CODES[code].status;
}

/**
 * A registry error the server turns into its status and `{errors:[...]}` body. `headers` carry
 * what must travel with it (WWW-Authenticate on 401, Allow on 405).
 */
export class RegistryError extends Error {
  readonly code: RegistryErrorCode;
  readonly status: number;
  readonly detail: unknown;
  readonly headers: Record<string, string>;

  /** `status` overrides the code's status where the spec asks for another (413 for an oversized manifest). */
  constructor(code: RegistryErrorCode, message?: string, options: { detail?: unknown; headers?: Record<string, string>; status?: number; cause?: unknown } = {}) {
    super(message ?? REGISTRY_ERROR_CODES[code].message, { cause: options.cause });
    this.name = `RegistryError(${code})`;
    this.code = code;
    this.status = options.status ?? REGISTRY_ERROR_CODES[code].status;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
  }

  entry(): RegistryErrorEntry {
    return this.detail === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, detail: this.detail };
  }

  body(): RegistryErrorBody {
    return { errors: [this.entry()] };
  }
}

export const registryError = (code: RegistryErrorCode, message?: string, detail?: unknown) => new RegistryError(code, message, { detail });

/**
 * The entries of a registry error body, or undefined when `body` (parsed JSON or its text) is
 * not one. Unknown codes are kept: registries add their own, and the message is still useful.
 */
export function parseRegistryErrors(body: unknown): RegistryErrorEntry[] | undefined {
  let value = body;
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    try {
      value = JSON.parse(value.toString());
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const errors = (value as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return undefined;
  const entries: RegistryErrorEntry[] = [];
  for (const item of errors) {
    if (typeof item !== 'object' || item === null) continue;
    const { code, message, detail } = item as Record<string, unknown>;
    if (typeof code !== 'string') continue;
    const text = typeof message === 'string' && message !== '' ? message : isRegistryErrorCode(code) ? REGISTRY_ERROR_CODES[code].message : code;
    entries.push(detail === undefined ? { code, message: text } : { code, message: text, detail });
  }
  return entries.length > 0 ? entries : undefined;
}

/**
 * Entries as one line, each the way distribution's errcode.Error prints itself (and so the
 * docker CLI shows a registry's refusal): `manifest unknown: manifest unknown`.
 */
export function describeRegistryErrors(entries: readonly RegistryErrorEntry[]): string {
  return entries.map((e) => `${e.code.toLowerCase().replace(/_/g, ' ')}: ${e.message}`).join('; ');
}
