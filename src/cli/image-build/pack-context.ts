import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { encodeHeader, padding } from '../../archive/tar/header';
import { packDirectory } from '../../archive/tar/pack';
import { includeFilter, loadContextFilter } from '../../builder/dockerfile/dockerignore';

export interface PackedContext {
  tar: Readable;
  /** The Dockerfile's name inside the tar (the `dockerfile` query parameter). */
  dockerfile: string;
}

/**
 * The build context as the docker CLI sends it: the folder's files minus what
 * `<Dockerfile>.dockerignore` (or else `.dockerignore`) excludes, the Dockerfile and the
 * ignore file always kept. `-f` is relative to the working directory, as docker takes it;
 * a Dockerfile outside the context, or one given as text (`-f -`), travels inside the tar
 * under a random `.dockerfile.<hex>` name, as docker does.
 */
export function packBuildContext(contextDir: string, opts: { dockerfile?: string; dockerfileText?: string }): PackedContext {
  const absContext = path.resolve(contextDir);
  const st = fs.statSync(absContext, { throwIfNoEntry: false });
  if (!st) throw new Error(`unable to prepare context: path "${contextDir}" not found`);
  if (!st.isDirectory()) throw new Error(`unable to prepare context: "${contextDir}" is not a directory`);

  let dockerfileRel: string | undefined;
  let extra: { name: string; content: Buffer } | undefined;
  if (opts.dockerfileText !== undefined) {
    extra = { name: `.dockerfile.${randomBytes(10).toString('hex')}`, content: Buffer.from(opts.dockerfileText) };
  } else {
    const absDockerfile = opts.dockerfile ? path.resolve(opts.dockerfile) : path.join(absContext, 'Dockerfile');
    if (!fs.existsSync(absDockerfile)) throw new Error(`unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${absDockerfile}: no such file or directory`);
    const rel = path.relative(absContext, absDockerfile);
    if (rel.startsWith('..') || path.isAbsolute(rel)) {
      extra = { name: `.dockerfile.${randomBytes(10).toString('hex')}`, content: fs.readFileSync(absDockerfile) };
    } else {
      dockerfileRel = rel.split(path.sep).join('/');
    }
  }
  const filter = loadContextFilter(absContext, dockerfileRel ?? 'Dockerfile');
  const kept = new Set(['.dockerignore', ...(dockerfileRel ? [dockerfileRel, `${dockerfileRel}.dockerignore`] : [])]);
  const include = includeFilter(filter, kept, (rel) => fs.lstatSync(path.join(absContext, rel)).isDirectory());
  if (!extra) return { tar: packDirectory(absContext, { include }), dockerfile: dockerfileRel! };
  // As docker's AddDockerfileToBuildContext: the random name goes into .dockerignore, so the
  // daemon drops it from the context once read (and COPY . never sees it).
  const ignorePath = path.join(absContext, '.dockerignore');
  const ignoreText = fs.existsSync(ignorePath) ? fs.readFileSync(ignorePath, 'utf8') : '';
  const entries = [extra, { name: '.dockerignore', content: Buffer.from(`${ignoreText}\n${extra.name}\n`) }];
  const rest = packDirectory(absContext, { include: (rel) => rel !== '.dockerignore' && include(rel) });
  return { tar: Readable.from(prepend(entries, rest), { objectMode: false }), dockerfile: extra.name };
}

async function* prepend(entries: Array<{ name: string; content: Buffer }>, rest: Readable): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    yield encodeHeader({ name: entry.name, type: 'file', mode: 0o600, uid: 0, gid: 0, size: entry.content.length, mtime: Math.floor(Date.now() / 1000) });
    yield entry.content;
    yield padding(entry.content.length);
  }
  for await (const chunk of rest) yield chunk as Buffer;
}
