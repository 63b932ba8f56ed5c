/**
 * One error taxonomy for the whole engine. Stores, drivers and services throw
 * EngineError with a kind; the API layer maps kinds to HTTP statuses in one place
 * (src/api/errors-to-status.ts). Messages follow Docker's wording where Docker has one,
 * because clients (the docker CLI, compose) show them verbatim.
 */
export type ErrorKind =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'InvalidArgument'
  | 'FailedPrecondition'
  | 'Unavailable'
  | 'NotImplemented'
  | 'NotModified'
  | 'Unauthorized'
  | 'Forbidden'
  | 'Internal';

export class EngineError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = `EngineError(${kind})`;
  }
}

export const notFound = (message: string, cause?: unknown) => new EngineError('NotFound', message, { cause });
export const alreadyExists = (message: string, cause?: unknown) => new EngineError('AlreadyExists', message, { cause });
export const conflict = (message: string, cause?: unknown) => new EngineError('Conflict', message, { cause });
export const invalidArgument = (message: string, cause?: unknown) => new EngineError('InvalidArgument', message, { cause });
export const failedPrecondition = (message: string, cause?: unknown) => new EngineError('FailedPrecondition', message, { cause });
export const unavailable = (message: string, cause?: unknown) => new EngineError('Unavailable', message, { cause });
export const notImplemented = (message: string, cause?: unknown) => new EngineError('NotImplemented', message, { cause });
export const notModified = (message: string) => new EngineError('NotModified', message);
export const unauthorized = (message: string, cause?: unknown) => new EngineError('Unauthorized', message, { cause });
export const forbidden = (message: string, cause?: unknown) => new EngineError('Forbidden', message, { cause });
export const internal = (message: string, cause?: unknown) => new EngineError('Internal', message, { cause });

/** The kind of the first EngineError found walking `err` and its `cause` chain. */
export function errorKind(err: unknown): ErrorKind | undefined {
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 16; depth++) {
    if (current instanceof EngineError) return current.kind;
    current = current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}

export const isNotFound = (err: unknown) => errorKind(err) === 'NotFound';
export const isConflict = (err: unknown) => errorKind(err) === 'Conflict';
export const isInvalidArgument = (err: unknown) => errorKind(err) === 'InvalidArgument';

/** Node system errors carry a string `code` (ENOENT, EEXIST, ...). */
export function errnoCode(err: unknown): string | undefined {
  if (err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string') {
    return (err as NodeJS.ErrnoException).code;
  }
  return undefined;
}

export const isENOENT = (err: unknown) => errnoCode(err) === 'ENOENT';

/** A message for any thrown value, for logs and error bodies. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
