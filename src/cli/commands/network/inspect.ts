import { defineCommand, FORMAT_FLAG, StatusError } from '../../command';
import { Template } from '../../output/template';
import { unescapeFormat } from '../../output/format';
import { errorText } from '../common';

/** Go's json.Marshal escapes these for HTML safety; docker's output carries them so. */
function goJson(text: string): string {
  return text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export default defineCommand({
  usage: 'network inspect [OPTIONS] NETWORK [NETWORK...]',
  description: 'Display detailed information on one or more networks',
  minArgs: 1,
  flags: { format: { ...FORMAT_FLAG, short: 'f' }, verbose: { kind: 'bool', short: 'v', description: 'Verbose output for diagnostics' } },
  /** As docker's inspect.Inspect: the networks found, then the daemon's errors with status 1. */
  async run(ctx, flags, args) {
    const client = await ctx.client();
    const found: unknown[] = [];
    const errors: string[] = [];
    for (const name of args) {
      try {
        found.push(await client.networkInspect(name));
      } catch (err: unknown) {
        errors.push(await errorText(err));
      }
    }
    const format = flags.format ?? '';
    if (format === 'json') {
      ctx.out(`${goJson(JSON.stringify(found))}\n`);
    } else if (format !== '') {
      const template = new Template(unescapeFormat(format));
      for (const item of found) ctx.out(`${template.execute(item)}\n`);
    } else {
      ctx.out(`${goJson(JSON.stringify(found, null, 4))}\n`);
    }
    if (errors.length > 0) throw new StatusError(1, errors.join('\n'));
  },
});
