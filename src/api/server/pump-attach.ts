import type { AttachSession } from '../../util/stdio-streams';
import type { Logger } from '../../util/logger';
import { messageOf } from '../../errors';
import type { Exchange, HijackedStream } from './exchange';
import { frame, OutputEncoder } from './stdio-framing';
import type { AcceptStream } from '../backend';

/**
 * Joins an AttachSession to a hijacked connection until the process's output ends:
 * client bytes → stdin, a client half-close → stdin end (output keeps flowing, as the docker
 * CLI half-closes right after sending stdin), output → client (framed unless TTY), then the
 * connection is closed. A client that goes away, or `signal` (server shutdown), detaches the
 * session. Resolves when done.
 */
export function pumpAttach(session: AttachSession, conn: HijackedStream, logger: Logger, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      signal?.removeEventListener('abort', onAbort);
      conn.close();
      resolve();
    };
    // Server shutdown (or the client vanishing): detach, leave the process running.
    const onAbort = () => {
      if (finished) return;
      session.close();
      finish();
    };
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });

    const stdin = session.stdin;
    if (stdin) {
      stdin.on('error', (err: unknown) => logger.debug('attach stdin error', { error: messageOf(err) }));
      conn.input.pipe(stdin, { end: conn.inputEndIsHalfClose });
    } else {
      // Nobody reads stdin: drain it so the socket still sees the client's FIN and close.
      conn.input.resume();
    }

    const encoder = new OutputEncoder(!session.tty);
    session.output.on('error', (err: unknown) => {
      logger.warn('attach output error', { error: messageOf(err) });
      encoder.end();
    });
    session.output.pipe(encoder);
    encoder.pipe(conn.output, { end: false });
    encoder.on('end', finish);

    conn.output.on('close', () => {
      if (finished) return;
      session.close();
      finish();
    });
    conn.output.on('error', () => {
      session.close();
      finish();
    });
  });
}

/**
 * Opens a stream session and pumps it over the hijacked connection. The headers go out (and
 * are flushed) when the backend accepts the request, before the process starts or output is
 * connected, as dockerd does: output then never shares the client's first read with them.
 * A backend that never calls `accept` gets the headers after it returns. An error after the
 * headers went out is written into the stream when `errorInStream` (moby's exec start: the
 * message and CRLF, framed as stdout unless TTY), else the connection just closes.
 */
export async function streamSession(
  ex: Exchange,
  open: (accept: AcceptStream) => Promise<AttachSession | undefined>,
  contentTypeFor: (tty: boolean) => string,
  logger: Logger,
  options: { errorInStream: boolean },
): Promise<void> {
  let conn: HijackedStream | undefined;
  let connTty = false;
  const accept: AcceptStream = async (tty) => {
    conn = await ex.hijack(contentTypeFor(tty));
    connTty = tty;
  };
  let session: AttachSession | undefined;
  try {
    session = await open(accept);
  } catch (err: unknown) {
    if (!conn) throw err;
    logger.debug('stream failed after its headers were sent', { path: ex.path, error: messageOf(err) });
    if (options.errorInStream) {
      const message = Buffer.from(`${messageOf(err)}\r\n`);
      conn.output.write(connTty ? message : frame('stdout', message));
    }
    conn.close();
    return;
  }
  if (session === undefined) {
    // Nothing to stream (a backend that detached after all).
    if (conn) conn.close();
    else ex.empty(200);
    return;
  }
  if (!conn) {
    try {
      conn = await ex.hijack(contentTypeFor(session.tty));
    } catch (err: unknown) {
      session.close();
      throw err;
    }
  }
  await pumpAttach(session, conn, logger, ex.signal);
}
