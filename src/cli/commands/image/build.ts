import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { defineCommand, StatusError } from '../../command';
import type { JsonStreamMessage } from '../../../api/types/common';

/** berth's extension header for `--secret` (see src/api/server/routes/build.ts). */
const SECRETS_HEADER = 'X-Berth-Build-Secrets';

/**
 * berth build: packs the local context (ignore files applied here, as the docker CLI does),
 * sends it to POST /build, and draws the classic builder's stream (build-progress.ts).
 */
export default defineCommand({
  usage: 'build [OPTIONS] PATH | -',
  description: 'Build an image from a Dockerfile',
  minArgs: 1,
  maxArgs: 1,
  flags: {
    tag: { kind: 'strings', short: 't', description: 'Name and optionally a tag in the "name:tag" format' },
    file: { kind: 'string', short: 'f', description: "Name of the Dockerfile (Default is 'PATH/Dockerfile')" },
    'build-arg': { kind: 'strings', description: 'Set build-time variables' },
    target: { kind: 'string', description: 'Set the target build stage to build' },
    'no-cache': { kind: 'bool', description: 'Do not use cache when building the image' },
    label: { kind: 'strings', description: 'Set metadata for an image' },
    iidfile: { kind: 'string', description: 'Write the image ID to the file' },
    pull: { kind: 'string', noOptDefault: 'always', default: 'missing', valueName: 'string', description: 'Pull the base images: "always" (also --pull, --pull=true), "missing" (--pull=false) or "never"' },
    network: { kind: 'string', description: 'Set the networking mode for the RUN instructions during build', default: 'default' },
    'cache-from': { kind: 'strings', description: 'Images to consider as cache sources' },
    secret: { kind: 'strings', description: 'Secret file to expose to the build: id=mysecret,src=/local/secret (local daemon only)' },
    progress: { kind: 'string', description: 'Type of progress output (auto, plain)', default: 'auto' },
    quiet: { kind: 'bool', short: 'q', description: 'Suppress the build output and print image ID on success' },
    rm: { kind: 'bool', description: 'Remove intermediate containers after a successful build', default: true },
    'force-rm': { kind: 'bool', description: 'Always remove intermediate containers' },
  },
  async run(ctx, flags, args) {
    const { BuildProgress } = require('../../image-build/build-progress') as typeof import('../../image-build/build-progress');
    const { parseJsonStream } = require('../../../client/json-stream') as typeof import('../../../client/json-stream');
    if (flags.progress !== 'auto' && flags.progress !== 'plain' && flags.progress !== 'tty') {
      throw new StatusError(1, `invalid --progress "${flags.progress}": choose auto, plain or tty`);
    }
    const pull = pullPolicy(flags.pull);
    const contextArg = args[0]!;
    const fromStdin = contextArg === '-';
    const dockerfileFromStdin = flags.file === '-';
    if (fromStdin && dockerfileFromStdin) throw new StatusError(1, 'invalid argument: can\'t use stdin for both build context and dockerfile');

    const buildArgs: Record<string, string> = {};
    for (const kv of flags['build-arg']) {
      const eq = kv.indexOf('=');
      if (eq === -1) {
        // `--build-arg K` takes K from the environment, and is left out when unset (docker's nil).
        const value = process.env[kv];
        if (value !== undefined) buildArgs[kv] = value;
      } else buildArgs[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    const labels: Record<string, string> = {};
    for (const kv of flags.label) {
      const eq = kv.indexOf('=');
      labels[eq === -1 ? kv : kv.slice(0, eq)] = eq === -1 ? '' : kv.slice(eq + 1);
    }

    const client = await ctx.client();
    const headers: Record<string, string> = {};
    if (flags.secret.length > 0) headers[SECRETS_HEADER] = JSON.stringify(secretSources(flags.secret, client.host.kind));

    const query = {
      t: flags.tag,
      buildargs: JSON.stringify(buildArgs),
      labels: JSON.stringify(labels),
      target: flags.target,
      nocache: flags['no-cache'] || undefined,
      // dockerd reads `pull` as a bool (its BoolValue): 1 for always, nothing for missing; never is berth's own value.
      pull: pull === 'always' ? '1' : pull === 'never' ? 'never' : undefined,
      networkmode: flags.network,
      cachefrom: flags['cache-from'].length > 0 ? JSON.stringify(flags['cache-from']) : undefined,
      q: flags.quiet || undefined,
      rm: flags.rm,
      forcerm: flags['force-rm'] || undefined,
    };
    const dockerfileText = dockerfileFromStdin ? await readAll(ctx.stdin) : undefined;
    // A daemon on this host reads the folder in place (no tar); any other answer means: send the tar.
    let res = !fromStdin && client.host.kind === 'unix' ? await buildInPlace(client, contextArg, { dockerfile: flags.file, dockerfileText }, { query, headers }) : undefined;
    if (!res) {
      let tar: Readable;
      let dockerfile: string | undefined;
      if (fromStdin) {
        ({ tar, dockerfile } = await stdinContext(ctx.stdin));
        if (flags.file) dockerfile = flags.file;
      } else {
        // Loaded only here (≈ 170 ms of modules): a local daemon reads the folder in place.
        const { packBuildContext } = require('../../image-build/pack-context') as typeof import('../../image-build/pack-context');
        const packed = packBuildContext(contextArg, dockerfileText !== undefined ? { dockerfileText } : { dockerfile: flags.file });
        tar = packed.tar;
        dockerfile = packed.dockerfile;
      }
      res = await client.imageBuild(tar, { query: { ...query, dockerfile }, headers: { ...headers, 'Content-Type': 'application/x-tar' } });
    }

    const tty = flags.progress === 'tty' || (flags.progress === 'auto' && ctx.stdout.isTTY === true);
    const progress = new BuildProgress({ write: (text) => ctx.out(text), isTTY: tty }, tty);
    let quietId: string | undefined;
    const held: string[] = [];
    for await (const message of parseJsonStream<JsonStreamMessage>(res)) {
      if (message.errorDetail || message.error) {
        if (flags.quiet) ctx.err(held.join(''));
        else progress.abort();
        const code = message.errorDetail?.code;
        throw new StatusError(code && code > 0 ? code : 1, message.errorDetail?.message ?? message.error ?? 'build failed');
      }
      if (flags.quiet) {
        if (typeof message.stream === 'string') {
          if (/^sha256:[0-9a-f]{64}\n$/.test(message.stream)) quietId = message.stream.trim();
          else held.push(message.stream);
        }
        continue;
      }
      progress.message(message);
    }
    const imageId = flags.quiet ? quietId : progress.imageId;
    if (flags.quiet) {
      if (imageId) ctx.out(`${imageId}\n`);
    } else progress.finish();
    if (flags.iidfile) {
      if (!imageId) throw new StatusError(1, 'the build gave no image ID to write to --iidfile');
      fs.writeFileSync(path.resolve(flags.iidfile), imageId);
    }
  },
});

/** `--pull` as docker build's bool (`--pull`, `--pull=true|false`) or docker run's policy words. */
function pullPolicy(value: string): 'always' | 'missing' | 'never' {
  const v = value.trim().toLowerCase();
  if (v === 'always' || ['true', '1', 't'].includes(v)) return 'always';
  if (v === 'missing' || ['false', '0', 'f', ''].includes(v)) return 'missing';
  if (v === 'never') return 'never';
  throw new StatusError(1, `invalid --pull "${value}": must be one of "always", "missing" or "never" (or true/false)`);
}

/**
 * POST /berth/build/local: names the context folder (with its device and inode, so a daemon
 * that sees another folder at that path refuses) and the Dockerfile instead of sending a
 * tar. Undefined when the daemon cannot (dockerd or an older berthd: 404; another mount
 * namespace, a RUN bind mount of the context: LOCAL_CONTEXT_REFUSED), and the tar goes then.
 */
async function buildInPlace(
  client: import('../../../client/engine-client').EngineClient,
  contextArg: string,
  file: { dockerfile?: string; dockerfileText?: string },
  opts: { query: Record<string, unknown>; headers: Record<string, string> },
): Promise<import('node:http').IncomingMessage | undefined> {
  const { LOCAL_CONTEXT_REFUSED } = require('../../../builder/types') as typeof import('../../../builder/types');
  const { ClientError } = require('../../../client/errors') as typeof import('../../../client/errors');
  let context: string;
  try {
    context = fs.realpathSync(path.resolve(contextArg));
  } catch {
    return undefined; // the tar path words the error as docker does
  }
  const st = fs.statSync(context, { bigint: true });
  if (!st.isDirectory()) return undefined;
  let dockerfileText = file.dockerfileText;
  let dockerfile: string | undefined;
  if (dockerfileText === undefined) {
    const abs = file.dockerfile ? path.resolve(file.dockerfile) : path.join(context, 'Dockerfile');
    let real: string;
    try {
      real = fs.realpathSync(abs);
    } catch {
      return undefined;
    }
    const rel = path.relative(context, real);
    if (rel.startsWith('..') || path.isAbsolute(rel)) dockerfileText = fs.readFileSync(real, 'utf8');
    else dockerfile = rel.split(path.sep).join('/');
  }
  try {
    return await client.imageBuildLocal(
      { context, dev: String(st.dev), ino: String(st.ino), ...(dockerfileText !== undefined ? { dockerfileText } : {}) },
      { query: { ...opts.query, dockerfile }, headers: opts.headers },
    );
  } catch (err) {
    if (err instanceof ClientError && (err.statusCode === 404 || err.message.includes(LOCAL_CONTEXT_REFUSED))) return undefined;
    throw err;
  }
}

/**
 * `--secret id=x,src=path`: berth sends each secret as a path on the daemon's host
 * (berth's X-Berth-Build-Secrets header), so it works only with a local daemon.
 */
function secretSources(specs: string[], hostKind: string): Record<string, string> {
  if (hostKind !== 'unix') throw new StatusError(1, '--secret needs a local daemon (a unix socket): berth hands the daemon the secret file\'s path, never its content');
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const fields = new Map<string, string>();
    for (const part of spec.split(',')) {
      const eq = part.indexOf('=');
      fields.set(eq === -1 ? part : part.slice(0, eq), eq === -1 ? '' : part.slice(eq + 1));
    }
    const id = fields.get('id');
    const src = fields.get('src') ?? fields.get('source');
    const type = fields.get('type') ?? 'file';
    if (type !== 'file') throw new StatusError(1, `--secret ${spec}: only type=file is supported`);
    if (!id) throw new StatusError(1, `--secret ${spec}: id= is required`);
    if (!src) throw new StatusError(1, `--secret ${spec}: src= is required`);
    const abs = path.resolve(src);
    if (!fs.statSync(abs, { throwIfNoEntry: false })?.isFile()) throw new StatusError(1, `--secret ${spec}: ${abs} is not a file`);
    out[id] = abs;
  }
  return out;
}

async function readAll(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `berth build -`: stdin is a context tar (maybe compressed), sent as is, or else a Dockerfile
 * alone (docker's rule: a tar is recognized by its header).
 */
async function stdinContext(stdin: NodeJS.ReadableStream): Promise<{ tar: Readable; dockerfile: string | undefined }> {
  const { peek, detectCompression } = require('../../../images/compression') as typeof import('../../../images/compression');
  const { head, stream } = await peek(Readable.from(stdin as AsyncIterable<Buffer>), 262);
  const isTar = detectCompression(head) !== 'none' || head.subarray(257, 262).toString('latin1') === 'ustar';
  if (isTar) return { tar: stream, dockerfile: undefined };
  const text = await readAll(stream);
  const { encodeHeader, padding, END_OF_ARCHIVE } = require('../../../archive/tar/header') as typeof import('../../../archive/tar/header');
  const content = Buffer.from(text);
  const tar = Buffer.concat([encodeHeader({ name: 'Dockerfile', type: 'file', mode: 0o600, uid: 0, gid: 0, size: content.length, mtime: Math.floor(Date.now() / 1000) }), content, padding(content.length), END_OF_ARCHIVE]);
  return { tar: Readable.from([tar]), dockerfile: 'Dockerfile' };
}
