import { defineCommand, StatusError } from '../../command';
import { displayJsonMessages } from '../common';
import { familiarName, parseNormalizedNamed, referenceString } from '../../../images/reference';

/** docker push: the daemon pushes; the CLI names the tag and draws the progress. */
export default defineCommand({
  usage: 'push [OPTIONS] NAME[:TAG]',
  description: 'Upload an image to a registry',
  minArgs: 1,
  maxArgs: 1,
  flags: {
    'all-tags': { kind: 'bool', short: 'a', description: 'Push all tags of an image to the repository' },
    'disable-content-trust': { kind: 'bool', description: 'Skip image signing (default true)' },
    quiet: { kind: 'bool', short: 'q', description: 'Suppress verbose output' },
  },
  async run(ctx, flags, args) {
    const ref = parseNormalizedNamed(args[0]!);
    if (ref.digest !== undefined) throw new StatusError(1, 'cannot push a digest reference');
    const all = flags['all-tags'] === true;
    if (all && ref.tag !== undefined) throw new StatusError(1, "tag can't be used with --all-tags/-a");
    let tag = ref.tag;
    if (!all && tag === undefined) {
      tag = 'latest';
      if (!flags.quiet) ctx.out(`Using default tag: ${tag}\n`);
    }
    const client = await ctx.client();
    const { registryAuthForImage } = require('../../docker-config') as typeof import('../../docker-config');
    const res = await client.imagePush(familiarName(ref), { tag, registryAuth: await registryAuthForImage(args[0]!) });
    await displayJsonMessages(ctx, res, { quiet: flags.quiet });
    if (flags.quiet) ctx.out(`${referenceString({ ...ref, tag })}\n`);
  },
});

