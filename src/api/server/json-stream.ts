import { messageOf } from '../../errors';
import type { Exchange } from './exchange';

/**
 * Writes an async sequence of objects as Docker's JSON stream (one JSON value per line).
 * Headers go out with the first message, so a failure before it is a normal HTTP error
 * (thrown to the caller); a later one becomes an in-band {"errorDetail":...,"error":...}.
 * Stops early when the client goes away.
 */
export async function sendJsonStream(ex: Exchange, messages: AsyncIterable<unknown>, opts: { flushHeadersAtOnce?: boolean } = {}): Promise<void> {
  const iterator = messages[Symbol.asyncIterator]();
  const onAbort = () => void iterator.return?.();
  ex.signal.addEventListener('abort', onAbort, { once: true });
  let out = opts.flushHeadersAtOnce ? ex.startStream('application/json') : undefined;
  try {
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await iterator.next();
      } catch (err: unknown) {
        if (!out) throw err;
        const message = messageOf(err);
        out.write(goJson({ errorDetail: { message }, error: message }) + '\n');
        break;
      }
      if (next.done || ex.signal.aborted) break;
      out ??= ex.startStream('application/json');
      out.write(goJson(next.value) + '\n');
    }
    (out ?? ex.startStream('application/json')).end();
  } finally {
    ex.signal.removeEventListener('abort', onAbort);
  }
}

/**
 * JSON as Go's encoder writes it in dockerd's streams: `<`, `>`, `&`, U+2028 and U+2029
 * escaped (`[====\u003e   ]` in a progress bar). They occur only inside strings, where
 * the escape means the same character.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
