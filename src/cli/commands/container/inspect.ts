import { defineCommand, FORMAT_FLAG } from '../../command';
import { inspectAll } from '../inspect-objects';

export default defineCommand({
  usage: 'inspect [OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Display detailed information on one or more containers',
  minArgs: 1,
  flags: {
    format: { ...FORMAT_FLAG, short: 'f' },
    size: { kind: 'bool', short: 's', description: 'Display total file sizes' },
  },
  async run(ctx, flags, args) {
    return inspectAll(ctx, args, { type: 'container', format: flags.format, size: flags.size });
  },
});
