import type { AttachSession } from '../../engine/streams';
import type { Logger } from '../../util/logger';
import { messageOf } from '../../errors';
import type { HijackedStream } from './exchange';
import { OutputEncoder } from './stdio-framing';

/**
 * Joins an AttachSession to a hijacked connection until the process's output ends:
 * client bytes → stdin, a client half-close → stdin end (output keeps flowing, as the docker
 * CLI half-closes right after sending stdin), output → client (framed unless TTY), then the
 * connection is closed. A client that goes away detaches the session. Resolves when done.
 */
export function pumpAttach(session: AttachSession, conn: HijackedStream, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      conn.close();
      resolve();
    };

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
