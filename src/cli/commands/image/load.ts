import { createReadStream } from 'node:fs';
import { defineCommand, StatusError } from '../../command';
import { displayJsonMessages } from '../common';

export default defineCommand({
  usage: 'load [OPTIONS]',
  description: 'Load an image from a tar archive or STDIN',
  maxArgs: 0,
  flags: {
    input: { kind: 'string', short: 'i', description: 'Read from tar archive file, instead of STDIN' },
    quiet: { kind: 'bool', short: 'q', description: 'Suppress the load output' },
  },
  async run(ctx, flags) {
    if (!flags.input && ctx.stdin.isTTY) throw new StatusError(1, 'requested load from stdin, but stdin is empty');
    const client = await ctx.client();
    const source = flags.input ? createReadStream(flags.input) : ctx.stdin;
    const res = await client.imageLoad(source, { quiet: flags.quiet });
    const type = String(res.headers['content-type'] ?? '');
    if (type.includes('application/json')) await displayJsonMessages(ctx, res);
    else for await (const chunk of res) ctx.stdout.write(chunk as Buffer);
  },
});
