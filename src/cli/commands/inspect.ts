import { defineCommand, FORMAT_FLAG, StatusError } from '../command';
import { inspectAll } from './inspect-objects';

export default defineCommand({
  usage: 'inspect [OPTIONS] NAME|ID [NAME|ID...]',
  description: 'Return low-level information on Docker objects',
  minArgs: 1,
  flags: {
    format: { ...FORMAT_FLAG, short: 'f' },
    size: { kind: 'bool', short: 's', description: 'Display total file sizes if the type is container' },
    type: { kind: 'string', description: 'Return JSON for specified type' },
  },
  async run(ctx, flags, args) {
    const type = flags.type;
    if (type !== undefined && type !== 'container' && type !== 'image') throw new StatusError(1, `"${type}" is not a valid value for --type`);
    return inspectAll(ctx, args, { type, format: flags.format, size: flags.size });
  },
});
