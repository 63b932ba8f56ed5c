import { StatusError } from '../../command';

type Exposed = Record<string, Record<string, never>>;
type Bindings = Record<string, Array<{ HostIp: string; HostPort: string }>>;

/** `a` or `a-b` as the first and last port (NaN when it is neither). */
function portRange(text: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!m) return [NaN, NaN];
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

const validRange = ([first, last]: [number, number]) => first >= 1 && last <= 65535 && first <= last;

/**
 * `-p [ip:][hostport:]containerport[/proto]` and `--expose port[-port][/proto]` as the docker
 * CLI turns them into ExposedPorts and PortBindings (go-connections' nat.ParsePortSpecs): a
 * container port range is one key per port, its host range port by port; a host range for a
 * single container port is kept whole (the daemon takes the first free port in it).
 */
export function parsePortSpecs(publish: string[], expose: string[]): { exposed: Exposed; bindings: Bindings } {
  const exposed: Exposed = {};
  const bindings: Bindings = {};
  for (const spec of expose) {
    const [ports = '', proto = 'tcp'] = spec.split('/');
    const range = portRange(ports);
    if (!validRange(range)) throw new StatusError(125, `invalid range format for --expose: ${spec}, error: invalid port range: ${ports}`);
    for (let port = range[0]; port <= range[1]; port++) exposed[`${port}/${proto.toLowerCase()}`] = {};
  }
  for (const spec of publish) {
    const [address = '', proto = 'tcp'] = spec.split('/');
    const parts = address.split(':');
    const containerText = parts.pop()!;
    const hostText = parts.pop() ?? '';
    const hostIp = parts.join(':').replace(/^\[(.*)\]$/, '$1');
    const container = portRange(containerText);
    if (!validRange(container)) throw new StatusError(125, `invalid containerPort: ${containerText}`);
    const host = hostText === '' ? undefined : portRange(hostText);
    if (host && !validRange(host)) throw new StatusError(125, `invalid hostPort: ${hostText}`);
    const containerCount = container[1] - container[0];
    if (host && containerCount !== host[1] - host[0] && containerCount !== 0) {
      throw new StatusError(125, `invalid ranges specified for container and host Ports: ${containerText} and ${hostText}`);
    }
    for (let i = 0; i <= containerCount; i++) {
      const key = `${container[0] + i}/${proto.toLowerCase()}`;
      let hostPort = host ? String(host[0] + i) : '';
      if (host && containerCount === 0 && host[0] !== host[1]) hostPort = `${host[0]}-${host[1]}`;
      exposed[key] = {};
      (bindings[key] ??= []).push({ HostIp: hostIp, HostPort: hostPort });
    }
  }
  return { exposed, bindings };
}
