import * as http from 'node:http';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tarStream from 'tar-stream';
import { apiRequest, type TestDaemon } from '../../helpers/test-daemon';

export interface BuildOutcome {
  events: Array<Record<string, unknown>>;
  /** The in-band error message, if the build failed. */
  error?: string;
  imageId?: string;
  /** All RUN output, in order. */
  output: string;
}

/** Runs a build through berth's POST /berth/build on a context folder. */
export function build(daemon: TestDaemon, contextDir: string, options: Record<string, unknown> = {}): Promise<BuildOutcome> {
  const payload = Buffer.from(JSON.stringify({ contextDir, ...options }));
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: daemon.socket, method: 'POST', path: '/berth/build', headers: { 'Content-Type': 'application/json', 'Content-Length': payload.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) {
            resolve({ events: [], error: `${res.statusCode} ${text}`, output: '' });
            return;
          }
          const events = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
          const err = events.find((e) => e.errorDetail !== undefined);
          const built = events.find((e) => e.type === 'built');
          resolve({
            events,
            ...(err ? { error: (err.errorDetail as { message: string }).message } : {}),
            ...(built ? { imageId: built.imageId as string } : {}),
            output: events.filter((e) => e.type === 'output').map((e) => e.data as string).join(''),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A temp context folder with the files given (path → content, or {content, mode}). */
export async function makeContext(files: Record<string, string | { content?: string; mode?: number; symlink?: string; dir?: boolean }>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bctx-'));
  for (const [name, spec] of Object.entries(files)) {
    const full = path.join(dir, name);
    await fs.mkdir(path.dirname(full), { recursive: true });
    if (typeof spec === 'string') await fs.writeFile(full, spec);
    else if (spec.symlink !== undefined) await fs.symlink(spec.symlink, full);
    else if (spec.dir) await fs.mkdir(full, { recursive: true, mode: spec.mode });
    else await fs.writeFile(full, spec.content ?? '', { mode: spec.mode });
    if (typeof spec !== 'string' && spec.mode !== undefined && spec.symlink === undefined) await fs.chmod(full, spec.mode);
  }
  return dir;
}

export async function inspectImage(daemon: TestDaemon, ref: string): Promise<Record<string, any>> {
  const res = await apiRequest(daemon.socket, 'GET', `/images/${encodeURIComponent(ref)}/json`);
  if (res.status !== 200) throw new Error(`inspect ${ref}: ${res.status} ${res.body}`);
  return JSON.parse(res.body) as Record<string, any>;
}

export async function history(daemon: TestDaemon, ref: string): Promise<Array<Record<string, any>>> {
  const res = await apiRequest(daemon.socket, 'GET', `/images/${encodeURIComponent(ref)}/history`);
  if (res.status !== 200) throw new Error(`history ${ref}: ${res.status} ${res.body}`);
  return JSON.parse(res.body) as Array<Record<string, any>>;
}

export interface TreeEntry {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  content?: string;
  linkname?: string;
}

/** The file tree under `p` in an image, read through a created (never started) container's archive. */
export async function imageTree(daemon: TestDaemon, image: string, p: string): Promise<Map<string, TreeEntry>> {
  const created = await apiRequest(daemon.socket, 'POST', '/containers/create', { Image: image, Cmd: ['/nothing'] });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${created.body}`);
  const id = (JSON.parse(created.body) as { Id: string }).Id;
  try {
    const tar = await new Promise<Buffer>((resolve, reject) => {
      http.get({ socketPath: daemon.socket, path: `/containers/${id}/archive?path=${encodeURIComponent(p)}` }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`archive ${p}: ${res.statusCode} ${Buffer.concat(chunks).toString()}`))));
      }).on('error', reject);
    });
    const out = new Map<string, TreeEntry>();
    const extract = tarStream.extract();
    await new Promise<void>((resolve, reject) => {
      extract.on('entry', (header, stream, next) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: unknown) => chunks.push(c as Buffer));
        stream.on('end', () => {
          const name = header.name.replace(/\/$/, '');
          out.set(name, {
            path: name, type: header.type ?? 'file', mode: (header.mode ?? 0) & 0o7777, uid: header.uid ?? 0, gid: header.gid ?? 0,
            ...(header.type === 'file' ? { content: Buffer.concat(chunks).toString() } : {}),
            ...(header.linkname ? { linkname: header.linkname } : {}),
          });
          next();
        });
        stream.resume();
      });
      extract.on('finish', resolve);
      extract.on('error', reject);
      extract.end(tar);
    });
    return out;
  } finally {
    await apiRequest(daemon.socket, 'DELETE', `/containers/${id}?force=1`);
  }
}

/**
 * path → format(header) for every entry of an image's file system, read from a container's
 * export, minus what runtimes add to a container (dockerd's init layer: .dockerenv, /etc/mtab;
 * the managed /etc files and the kernel file systems' mount points).
 */
export async function exportedFiles(socket: string, ref: string, format: (h: tarStream.Header) => string): Promise<Map<string, string>> {
  const created = JSON.parse((await apiRequest(socket, 'POST', '/containers/create', { Image: ref, Cmd: ['true'], Entrypoint: [], HostConfig: { NetworkMode: 'none' } })).body) as { Id: string };
  try {
    const files = new Map<string, string>();
    const extract = tarStream.extract();
    extract.on('entry', (h, stream, next) => {
      const name = `/${h.name.replace(/^(\.\/|\/)+/, '')}`.replace(/(.)\/$/, '$1');
      if (!/^\/(\.dockerenv|etc\/(hostname|hosts|resolv\.conf|mtab)|proc|sys|dev)(\/|$)/.test(name) && name !== '/') files.set(name, format(h));
      stream.resume();
      stream.on('end', next);
    });
    await new Promise<void>((resolve, reject) => {
      http
        .get({ socketPath: socket, path: `/v1.41/containers/${created.Id}/export` }, (res) => {
          res.pipe(extract);
          extract.on('finish', resolve);
          extract.on('error', reject);
        })
        .on('error', reject);
    });
    return files;
  } finally {
    await apiRequest(socket, 'DELETE', `/containers/${created.Id}?force=1`);
  }
}

/** Copies an image from one daemon to another (GET /images/get, then POST /images/load). */
export async function copyImage(fromSocket: string, toSocket: string, name: string): Promise<void> {
  const saved = await new Promise<Buffer>((resolve, reject) => {
    http
      .get({ socketPath: fromSocket, path: `/v1.41/images/get?names=${encodeURIComponent(name)}` }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      })
      .on('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    const req = http.request({ socketPath: toSocket, method: 'POST', path: '/v1.41/images/load?quiet=1', headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`load: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(saved);
  });
}
