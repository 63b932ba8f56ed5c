import { defineCommand, StatusError } from '../../command';
import { displayJsonMessages } from '../common';
import { familiarName, parseNormalizedNamed, referenceString } from '../../../images/reference';

/** docker pull: the daemon pulls; the CLI sends the stored credentials and draws the progress. */
export default defineCommand({
  usage: 'pull [OPTIONS] NAME[:TAG|@DIGEST]',
  description: 'Download an image from a registry',
  minArgs: 1,
  maxArgs: 1,
  flags: {
    'all-tags': { kind: 'bool', short: 'a', description: 'Download all tagged images in the repository' },
    'disable-content-trust': { kind: 'bool', description: 'Skip image verification (default true)' },
    platform: { kind: 'string', description: 'Set platform if server is multi-platform capable' },
    quiet: { kind: 'bool', short: 'q', description: 'Suppress verbose output' },
  },
  async run(ctx, flags, args) {
    const ref = parseNormalizedNamed(args[0]!);
    const all = flags['all-tags'] === true;
    const nameOnly = ref.tag === undefined && ref.digest === undefined;
    if (all && !nameOnly) throw new StatusError(1, "tag can't be used with --all-tags/-a");
    const tagged = !all && nameOnly ? { ...ref, tag: 'latest' } : ref;
    if (!all && nameOnly && !flags.quiet) ctx.out('Using default tag: latest\n');
    const client = await ctx.client();
    const { registryAuthForImage } = require('../../docker-config') as typeof import('../../docker-config');
    const res = await client.imagePull(familiarName(ref), all ? undefined : (tagged.digest ?? tagged.tag), {
      platform: typeof flags.platform === 'string' && flags.platform !== '' ? flags.platform.toLowerCase() : undefined,
      registryAuth: await registryAuthForImage(args[0]!),
    });
    await displayJsonMessages(ctx, res, { quiet: flags.quiet });
    if (flags.quiet) ctx.out(`${referenceString(tagged)}\n`);
  },
});
