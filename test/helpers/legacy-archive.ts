import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';

/**
 * A pre-1.10 `docker save` archive (the layout of dockerode's test fixture, test-load.tar):
 * a `repositories` file and one directory per layer with `VERSION`, `json` (the v1 image)
 * and `layer.tar`; no manifest.json. Built from Debian's busybox-static: a base layer with
 * busybox and its shell links, and a second layer adding /etc/legacy, whose json carries
 * what a converter must get right (a command with `&&` and `<`, which Go's encoder escapes,
 * a time with trailing zeros in its fraction and a `+00:00` offset, keys out of order,
 * a trailing newline).
 */
export interface LegacyArchive {
  tar: Buffer;
  baseId: string;
  topId: string;
  /** The repository and tag `repositories` gives the top layer. */
  repository: string;
  tag: string;
}

export interface LegacyArchiveOptions {
  repository?: string;
  tag?: string;
  /**
   * 'pre-1.8.3': layer json as Docker before 1.8.3 wrote it (no docker_version on the base,
   * 1.6.2 on the top one, keys in other cases, a string Cmd, unknown keys), which dockerd
   * re-encodes through its v1 struct before making a config of it.
   */
  era?: 'current' | 'pre-1.8.3';
  /** Replace (string/Buffer) or leave out (null) files by archive path, to make a malformed archive. */
  override?: (ids: { baseId: string; topId: string }) => Record<string, string | Buffer | null>;
}

const MTIME = new Date('2016-03-01T00:00:00Z');
const APPLETS = ['sh', 'cat', 'echo', 'ls', 'true'];

export async function legacyArchive(opts: LegacyArchiveOptions = {}): Promise<LegacyArchive> {
  const repository = opts.repository ?? 'legacy/busybox';
  const tag = opts.tag ?? 'v1';
  const baseId = randomBytes(32).toString('hex');
  const topId = randomBytes(32).toString('hex');
  const busybox = await fs.readFile('/bin/busybox');

  const baseLayer = await tarOf([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', data: busybox, mode: 0o755 },
    ...APPLETS.map((a) => ({ name: `bin/${a}`, type: 'symlink' as const, linkname: 'busybox' })),
    { name: 'etc/', type: 'directory' },
  ]);
  const topLayer = await tarOf([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/legacy', data: 'from a legacy archive\n' },
  ]);
  const baseJson = JSON.stringify({
    id: baseId,
    created: '2016-02-29T23:59:59.5Z',
    container_config: { Cmd: ['/bin/sh', '-c', '#(nop) ADD file:busybox in /'] },
    config: { Cmd: null, Env: ['PATH=/bin'] },
    docker_version: '1.9.1',
    architecture: 'amd64',
    os: 'linux',
    Size: baseLayer.length,
  });
  // Keys out of Go's order, spaces, a trailing newline: none of it may survive as is.
  const topJson = `{"parent": "${baseId}", "id": "${topId}", "os": "linux",
  "created": "2016-03-01T10:20:30.120000000+00:00",
  "author": "Legacy <legacy@example.com>",
  "container_config": {"Cmd": ["/bin/sh", "-c", "echo 'from a legacy archive' > /etc/legacy && true"], "Env": ["PATH=/bin"]},
  "config": {"Cmd": ["cat", "/etc/legacy"], "Env": ["PATH=/bin"], "Labels": {"a&b": "<x>"}},
  "docker_version": "1.9.1", "architecture": "amd64", "comment": "second layer", "Size": ${topLayer.length}}
`;
  const old = opts.era === 'pre-1.8.3';
  const oldBaseJson = JSON.stringify({ id: baseId, created: '2015-06-01T00:00:00Z', container_config: { Cmd: ['/bin/sh', '-c', '#(nop) ADD file:busybox in /'] }, Size: baseLayer.length });
  const oldTopJson = `{"id":"${topId}","parent":"${baseId}","created":"2015-06-01T10:00:00.000000100Z","container":"0123abcd",
  "Container_Config":{"Hostname":"0123abcd","cmd":["/bin/sh","-c","echo 'from a legacy archive' > /etc/legacy && true"],"Env":null,"ExposedPorts":{},"Volumes":{"/data":{}},"Labels":{},"Unknown":5},
  "config":{"Entrypoint":["cat"],"cmd":"/etc/legacy","Env":["PATH=/bin"],"ExposedPorts":{"80/tcp":{}},"Healthcheck":{"Test":["CMD","true"],"Interval":1000000000},"Labels":{"b":"1","a":"<2>"},"OnBuild":[]},
  "docker_version":"1.6.2","author":"Old & Legacy","architecture":"amd64","os":"linux","Size":${topLayer.length},"checksum":"tarsum.dev+sha256:00"}
`;
  const files: Record<string, string | Buffer | null> = {
    repositories: JSON.stringify({ [repository]: { [tag]: topId } }),
    [`${baseId}/VERSION`]: '1.0',
    [`${baseId}/json`]: old ? oldBaseJson : baseJson,
    [`${baseId}/layer.tar`]: baseLayer,
    [`${topId}/VERSION`]: '1.0',
    [`${topId}/json`]: old ? oldTopJson : topJson,
    [`${topId}/layer.tar`]: topLayer,
    ...(opts.override?.({ baseId, topId }) ?? {}),
  };
  const entries: TarEntry[] = [];
  for (const dir of [baseId, topId]) entries.push({ name: `${dir}/`, type: 'directory' });
  for (const [name, data] of Object.entries(files)) if (data !== null) entries.push({ name, data });
  return { tar: await tarOf(entries), baseId, topId, repository, tag };
}

interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink';
  data?: string | Buffer;
  linkname?: string;
  mode?: number;
}

async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const e of entries) {
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    const type = e.type ?? 'file';
    const header = { name: e.name, type, linkname: e.linkname, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), size: type === 'file' ? data.length : 0, mtime: MTIME };
    if (type === 'file') pack.entry(header, data);
    else pack.entry(header);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of Readable.from(pack as unknown as AsyncIterable<Buffer>)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
