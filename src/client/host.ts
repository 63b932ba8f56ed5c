/** Where the daemon listens, resolved like docker: -H flag, then BERTH_HOST, DOCKER_HOST, default. */

export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';

export type DaemonHost =
  | { kind: 'unix'; url: string; socketPath: string }
  | { kind: 'tcp'; url: string; host: string; port: number };

export interface HostSource {
  flag?: string;
  env?: NodeJS.ProcessEnv;
}

/** True when the user named no daemon, so the CLI may start the default one itself. */
export function isDefaultHost(src: HostSource): boolean {
  const env = src.env ?? process.env;
  return !src.flag && !env.BERTH_HOST && !env.DOCKER_HOST;
}

export function resolveHost(src: HostSource = {}): DaemonHost {
  const env = src.env ?? process.env;
  return parseHost(src.flag || env.BERTH_HOST || env.DOCKER_HOST || DEFAULT_HOST);
}

export function parseHost(spec: string): DaemonHost {
  if (spec.startsWith('unix://')) {
    const socketPath = spec.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw new Error(`invalid unix socket path: ${spec}`);
    return { kind: 'unix', url: spec, socketPath };
  }
  if (spec.startsWith('/')) return { kind: 'unix', url: `unix://${spec}`, socketPath: spec };
  if (spec.startsWith('tcp://') || spec.startsWith('http://')) {
    const url = new URL(spec.replace(/^tcp:/, 'http:'));
    const port = url.port === '' ? 2375 : Number(url.port);
    return { kind: 'tcp', url: `tcp://${url.hostname}:${port}`, host: url.hostname, port };
  }
  throw new Error(`unsupported host ${JSON.stringify(spec)}: only unix:// and tcp:// are supported`);
}
