import { ClientError } from '../../client/errors';
import { StatusError } from '../command';
import type { CliContext } from '../context';
import { Template } from '../output/template';
import { goString } from '../output/template';
import { unescapeFormat } from '../output/format';
import { errorText } from './common';

export type InspectType = 'container' | 'image' | undefined;

/**
 * docker inspect: looks each name up (as a container, then an image when no --type), prints
 * a JSON array indented like docker's, or one template result per object; errors for
 * missing objects go to stderr after the output ("Error: No such object: x").
 */
export async function inspectAll(ctx: CliContext, names: string[], opts: { type: InspectType; format?: string; size?: boolean }): Promise<number> {
  const client = await ctx.client();
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const name of names) {
    try {
      found.push(await inspectOne(name, opts.type, opts.size ?? false, client));
    } catch (err: unknown) {
      if (err instanceof ClientError && err.statusCode === 404) {
        errors.push(opts.type === 'image' ? `Error: No such image: ${name}` : opts.type === 'container' ? `Error: No such container: ${name}` : `Error: No such object: ${name}`);
      } else {
        throw err;
      }
    }
  }
  if (opts.format) {
    const template = opts.format === 'json' ? undefined : new Template(unescapeFormat(opts.format));
    for (const item of found) ctx.out(`${template ? template.execute(item) : JSON.stringify(item)}\n`);
  } else {
    ctx.out(`${JSON.stringify(found, null, 4)}\n`);
  }
  if (errors.length > 0) throw new StatusError(1, errors.join('\n'));
  return 0;
}

async function inspectOne(name: string, type: InspectType, size: boolean, client: Awaited<ReturnType<CliContext['client']>>): Promise<unknown> {
  if (type === 'image') return client.imageInspect(name);
  if (type === 'container') return client.containerInspect(name, { size });
  try {
    return await client.containerInspect(name, { size });
  } catch (err: unknown) {
    if (!(err instanceof ClientError) || err.statusCode !== 404) throw err;
    return client.imageInspect(name);
  }
}

export { goString };

/** Go's json.Marshal escapes these for HTML safety; docker's output carries them so. */
export function goJson(text: string): string {
  return text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * As docker's inspect.Inspect for one kind of object (network, volume): the objects found (a
 * JSON array, "json" on one line, or one template result each), then the daemon's errors on
 * stderr with status 1.
 */
export async function inspectEach(ctx: CliContext, names: string[], format: string, fetch: (name: string) => Promise<unknown>): Promise<void> {
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const name of names) {
    try {
      found.push(await fetch(name));
    } catch (err: unknown) {
      errors.push(await errorText(err));
    }
  }
  if (format === 'json') {
    ctx.out(`${goJson(JSON.stringify(found))}\n`);
  } else if (format !== '') {
    const template = new Template(unescapeFormat(format));
    for (const item of found) ctx.out(`${template.execute(item)}\n`);
  } else {
    ctx.out(`${goJson(JSON.stringify(found, null, 4))}\n`);
  }
  if (errors.length > 0) throw new StatusError(1, errors.join('\n'));
}
