import type { CliContext } from '../../context';

/** Reads one line from the terminal; `hidden` turns echo off (a password). */
export async function promptLine(ctx: CliContext, question: string, hidden: boolean): Promise<string> {
  const stdin = ctx.stdin;
  ctx.err(question);
  const wasRaw = stdin.isRaw;
  if (hidden && stdin.isTTY) stdin.setRawMode(true);
  try {
    return await new Promise<string>((resolve, reject) => {
      let line = '';
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            finish();
            return resolve(line);
          }
          if (ch === '\u0003') {
            finish();
            return reject(new Error('interrupted'));
          }
          if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
          else line += ch;
        }
      };
      const onEnd = () => {
        finish();
        resolve(line);
      };
      const finish = () => {
        stdin.off('data', onData);
        stdin.off('end', onEnd);
        stdin.pause();
      };
      stdin.on('data', onData);
      stdin.once('end', onEnd);
      stdin.resume();
    });
  } finally {
    if (hidden && stdin.isTTY) {
      stdin.setRawMode(wasRaw);
      ctx.err('\n');
    }
  }
}

/** Reads all of stdin (for --password-stdin), without the trailing newline. */
export async function readAllStdin(ctx: CliContext): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of ctx.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
