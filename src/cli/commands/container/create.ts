import { defineCommand } from '../../command';
import { buildCreateRequest, CREATE_FLAGS } from './create-options';
import { checkPullOption, createContainer } from './create-container';

export default defineCommand({
  usage: 'create [OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create a new container',
  interspersed: false,
  minArgs: 1,
  flags: CREATE_FLAGS,
  async run(ctx, flags, args) {
    checkPullOption(ctx, flags.pull, 'create');
    const request = buildCreateRequest(flags, args, false);
    const client = await ctx.client();
    const { Id } = await createContainer(ctx, client, request, { name: flags.name, platform: flags.platform, pull: flags.pull, quiet: flags.quiet, cidfile: flags.cidfile, useApiSocket: flags['use-api-socket'] });
    ctx.out(`${Id}\n`);
  },
});
