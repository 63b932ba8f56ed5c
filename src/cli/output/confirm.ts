import type { CliContext } from '../context';

/** docker's prompt: "... [y/N] "; anything but y/Y answers no. */
export async function confirm(ctx: CliContext, question: string): Promise<boolean> {
  ctx.out(`${question} [y/N] `);
  const answer = await new Promise<string>((resolve) => {
    const onData = (chunk: Buffer) => {
      ctx.stdin.off('data', onData);
      ctx.stdin.pause();
      resolve(chunk.toString('utf8'));
    };
    ctx.stdin.on('data', onData);
    ctx.stdin.once('end', () => resolve(''));
    ctx.stdin.resume();
  });
  return answer.trim().toLowerCase() === 'y';
}
