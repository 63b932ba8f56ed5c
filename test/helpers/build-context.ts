import * as http from 'node:http';
import * as tarStream from 'tar-stream';

/** One entry of a hand-made context tar (to send what no honest client would). */
export interface ContextEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
}

export async function contextTar(entries: ContextEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const content = type === 'file' ? Buffer.from(e.content ?? '') : undefined;
    const header = { name: e.name, type, linkname: e.linkname, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), size: content?.length ?? 0, mtime: new Date(0) };
    if (content) pack.entry(header, content);
    else pack.entry(header, '');
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

export interface BuildResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The newline-delimited JSON messages of a 200 answer. */
  messages: Array<Record<string, unknown>>;
}

/** POST /build with `body` as the context. */
export function postBuild(socket: string, query: string, body: Buffer, headers: Record<string, string> = {}): Promise<BuildResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: socket, method: 'POST', path: `/v1.41/build${query ? `?${query}` : ''}`, headers: { 'Content-Type': 'application/x-tar', 'Content-Length': body.length, ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          const messages = res.statusCode === 200 ? text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, messages });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
