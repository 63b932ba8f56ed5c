import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { Filters, JsonStreamMessage } from '../../client/types';
import { parseJsonStream, streamMessageError } from '../../client/json-stream';
import type { CliContext } from '../context';
import { StatusError } from '../command';
import { UsageError } from '../args/parser';
import { ClientError } from '../../client/errors';
import { JsonProgressRenderer } from '../output/json-progress';

/**
 * `--filter key=value` (repeatable) → Docker's filters map. A value without "=" is a usage
 * error (status 125) naming the flag as docker does (`flag`: "-f, --filter" or "--filter").
 */
export function parseFilters(list: string[], flag = '-f, --filter'): Filters {
  const filters: Filters = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq === -1) throw new UsageError(`invalid argument "${item}" for "${flag}" flag: bad format of filter (expected name=value)`);
    const key = item.slice(0, eq).trim().toLowerCase();
    (filters[key] ??= []).push(item.slice(eq + 1).trim());
  }
  return filters;
}

/**
 * Runs `action` for each name like docker's stop/rm/kill: prints each name that succeeded,
 * collects the errors, prints them all and fails with status 1 at the end.
 */
export async function forEachName(ctx: CliContext, names: string[], action: (name: string) => Promise<string | void>): Promise<number> {
  const errors: string[] = [];
  for (const name of names) {
    try {
      const printed = await action(name);
      ctx.out(`${printed ?? name}\n`);
    } catch (err: unknown) {
      errors.push(await errorText(err));
    }
  }
  if (errors.length > 0) throw new StatusError(1, errors.join('\n'));
  return 0;
}

/** "Error response from daemon: ..." for daemon errors, the message otherwise. */
export async function errorText(err: unknown): Promise<string> {
  if (err instanceof ClientError) return `Error response from daemon: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Writes a download to a file (-o) or stdout, refusing a terminal like docker. A file is
 * written beside its target and renamed into place (docker's CopyToFile), so a stream the
 * daemon ends early (e.g. a corrupt blob found mid-save) leaves no truncated archive.
 */
export async function writeOutput(ctx: CliContext, stream: Readable, file: string | undefined, what: string): Promise<void> {
  if (!file && ctx.stdout.isTTY) {
    stream.destroy();
    throw new StatusError(1, `cowardly refusing to save to a terminal. Use the -o flag or redirect`);
  }
  // Loaded here, not at start-up: every command imports this module, few write files.
  const { pipeline } = require('node:stream/promises') as typeof import('node:stream/promises');
  try {
    if (file) {
      const { randomBytes } = require('node:crypto') as typeof import('node:crypto');
      const { createWriteStream } = require('node:fs') as typeof import('node:fs');
      const { rename, rm } = require('node:fs/promises') as typeof import('node:fs/promises');
      const temp = path.join(path.dirname(file), `.berth_temp_${randomBytes(6).toString('hex')}`);
      try {
        await pipeline(stream, createWriteStream(temp));
        await rename(temp, file);
      } finally {
        await rm(temp, { force: true });
      }
      return;
    }
    await pipeline(stream, ctx.stdout, { end: false });
  } catch (err: unknown) {
    if (err instanceof ClientError) throw err;
    // The archive has no in-band error channel: the daemon can only cut the stream.
    throw new StatusError(1, `error during ${what}: the daemon ended the archive early (${await errorText(err)}); its log has the reason`);
  }
}

/**
 * Prints a JSON progress stream (pull, push, load, import, bootstrap) as docker does: on a
 * terminal per-item lines redrawn in place with progress bars, otherwise plain "id: status"
 * lines and `stream` text (output/json-progress.ts); an in-band error fails the command.
 */
export async function displayJsonMessages(
  ctx: CliContext,
  source: AsyncIterable<Buffer | string>,
  opts: { quiet?: boolean; onAux?: (aux: Record<string, unknown>) => void; toStderr?: boolean } = {},
): Promise<void> {
  const renderer = opts.toStderr
    ? new JsonProgressRenderer({ write: (text) => ctx.err(text), isTTY: ctx.stderr.isTTY, columns: ctx.stderr.columns })
    : new JsonProgressRenderer({ write: (text) => ctx.out(text), isTTY: ctx.stdout.isTTY, columns: ctx.stdout.columns });
  for await (const message of parseJsonStream<JsonStreamMessage>(source)) {
    const error = streamMessageError(message);
    if (error !== undefined) throw new StatusError(1, error);
    if (message.aux) {
      opts.onAux?.(message.aux);
      continue;
    }
    if (!opts.quiet) renderer.render(message);
  }
}

/** Splits "name:tag" (the tag after the last colon that follows the last slash). */
export function splitReference(ref: string): { repo: string; tag?: string } {
  const at = ref.indexOf('@');
  if (at !== -1) return { repo: ref.slice(0, at), tag: undefined };
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref };
}
