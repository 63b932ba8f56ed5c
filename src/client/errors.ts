/** A non-2xx answer from the daemon, with Docker's `{"message": ...}` body. */
export class ClientError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
    this.name = 'ClientError';
  }

  get isNotFound(): boolean {
    return this.statusCode === 404;
  }
}

/** The socket could not be reached at all (ENOENT, ECONNREFUSED, ...). */
export class ConnectError extends Error {
  constructor(readonly hostUrl: string, readonly code: string | undefined, cause: unknown) {
    super(`Cannot connect to the Berth daemon at ${hostUrl}. Is the daemon running?`, { cause });
    this.name = 'ConnectError';
  }
}

export const isClientError = (err: unknown): err is ClientError => err instanceof ClientError;
export const isNotFoundError = (err: unknown): boolean => err instanceof ClientError && err.statusCode === 404;

/** Docker's error body message, or the raw text when it is not JSON. */
export function messageFromBody(body: string, statusCode: number): string {
  const text = body.trim();
  if (text === '') return `request failed with status ${statusCode}`;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && 'message' in parsed && typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON: fall through to the raw text
  }
  return text;
}
