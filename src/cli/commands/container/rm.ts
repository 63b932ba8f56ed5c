import { defineCommand } from '../../command';
import { forEachName } from '../common';

export default defineCommand({
  usage: 'rm [OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Remove one or more containers',
  minArgs: 1,
  flags: {
    force: { kind: 'bool', short: 'f', description: 'Force the removal of a running container (uses SIGKILL)' },
    link: { kind: 'bool', short: 'l', description: 'Remove the specified link' },
    volumes: { kind: 'bool', short: 'v', description: 'Remove anonymous volumes associated with the container' },
  },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    return forEachName(ctx, args, (name) => client.containerRemove(name, { force: flags.force, volumes: flags.volumes, link: flags.link }));
  },
});
