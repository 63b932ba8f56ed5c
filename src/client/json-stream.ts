import type { JsonStreamMessage } from './types';

/**
 * Parses a stream of JSON values as dockerd writes them (one per line, but a value may be
 * split across chunks, and several may share one chunk).
 */
export async function* parseJsonStream<T = JsonStreamMessage>(source: AsyncIterable<Buffer | string>): AsyncGenerator<T> {
  let buffered = '';
  const decoder = new TextDecoder();
  for await (const chunk of source) {
    buffered += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line !== '') yield JSON.parse(line) as T;
    }
  }
  const rest = (buffered + decoder.decode()).trim();
  if (rest !== '') yield JSON.parse(rest) as T;
}

/** The error a progress stream reported in-band (pull/load/import), if any. */
export function streamMessageError(message: JsonStreamMessage): string | undefined {
  return message.errorDetail?.message ?? message.error;
}
