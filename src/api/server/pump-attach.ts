import type { AttachSession } from '../../util/stdio-streams';
import type { Logger } from '../../util/logger';
import { messageOf } from '../../errors';
import type { Exchange, HijackedStream } from './exchange';
import { OutputEncoder } from './stdio-framing';

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

/** Hijacks the exchange and pumps the session; the session is closed if hijacking fails. */
export async function hijackAndPump(ex: Exchange, session: AttachSession, contentType: string, logger: Logger): Promise<void> {
  let conn: HijackedStream;
  try {
    conn = await ex.hijack(contentType);
  } catch (err: unknown) {
    session.close();
    throw err;
  }
  await pumpAttach(session, conn, logger, ex.signal);
}
