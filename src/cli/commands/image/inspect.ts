import { defineCommand, FORMAT_FLAG } from '../../command';
import { inspectAll } from '../inspect-objects';

export default defineCommand({
  usage: 'image inspect [OPTIONS] IMAGE [IMAGE...]',
  description: 'Display detailed information on one or more images',
  minArgs: 1,
  flags: { format: { ...FORMAT_FLAG, short: 'f' } },
  async run(ctx, flags, args) {
    return inspectAll(ctx, args, { type: 'image', format: flags.format });
  },
});
