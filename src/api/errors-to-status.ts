import { errorKind, messageOf, type ErrorKind } from '../errors';

/**
 * The one place engine errors become HTTP statuses, after moby's httpstatus.FromError and its
 * gRPC fallback (AlreadyExists 409, FailedPrecondition 400). Errors without a kind are 500.
 */
const STATUS_BY_KIND: Record<ErrorKind, number> = {
  NotFound: 404,
  InvalidArgument: 400,
  Conflict: 409,
  AlreadyExists: 409,
  FailedPrecondition: 400,
  Unavailable: 503,
  NotImplemented: 501,
  NotModified: 304,
  Unauthorized: 401,
  Forbidden: 403,
  Internal: 500,
};

export function statusOf(err: unknown): number {
  const kind = errorKind(err);
  return kind === undefined ? 500 : STATUS_BY_KIND[kind];
}

/** Status and Docker's {"message": ...} body for an error. */
export function errorResponse(err: unknown): { status: number; body: { message: string } } {
  return { status: statusOf(err), body: { message: messageOf(err) } };
}
