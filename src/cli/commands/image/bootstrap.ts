import { defineCommand, StatusError } from '../../command';
import { displayJsonMessages } from '../common';

export default defineCommand({
  usage: 'image bootstrap busybox|debian',
  description: 'Build a base image locally (busybox from busybox-static, debian from debootstrap)',
  minArgs: 1,
  maxArgs: 1,
  flags: { quiet: { kind: 'bool', short: 'q', description: 'Suppress the progress output' } },
  async run(ctx, flags, args) {
    const name = args[0]!;
    if (name !== 'busybox' && name !== 'debian') throw new StatusError(1, `unknown bootstrap image "${name}": expected busybox or debian`);
    const client = await ctx.client();
    await displayJsonMessages(ctx, await client.imageBootstrap(name), { quiet: flags.quiet });
  },
});
