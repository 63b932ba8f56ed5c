import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { defineCommand } from '../../command';
import { parseJsonStream, streamMessageError } from '../../../client/json-stream';
import { StatusError } from '../../command';
import { splitReference } from '../common';

export default defineCommand({
  usage: 'import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  description: 'Import the contents from a tarball to create a filesystem image',
  minArgs: 1,
  maxArgs: 2,
  flags: {
    change: { kind: 'strings', short: 'c', description: 'Apply Dockerfile instruction to the created image' },
    message: { kind: 'string', short: 'm', description: 'Set commit message for imported image' },
    platform: { kind: 'string', description: 'Set platform if server is multi-platform capable' },
  },
  async run(ctx, flags, args) {
    const [source, ref] = args as [string, string?];
    let body: Readable | undefined;
    let fromSrc = source;
    if (source === '-') body = ctx.stdin;
    else if (!/^(https?:)?\/\//.test(source) && !/^https?:/.test(source)) {
      body = createReadStream(source);
      fromSrc = '-';
    }
    const client = await ctx.client();
    const target = ref ? splitReference(ref) : undefined;
    const res = await client.imageImport(body, { fromSrc, repo: target?.repo, tag: target?.tag, message: flags.message, changes: flags.change, platform: flags.platform });
    for await (const message of parseJsonStream(res)) {
      const error = streamMessageError(message);
      if (error !== undefined) throw new StatusError(1, error);
      if (message.status) ctx.out(`${message.status}\n`);
    }
  },
});
