import { invalidArgument } from '../../errors';

/** One `--link name[:alias]` as stored: the target's name and the alias the container uses. */
export interface LinkSpec {
  target: string;
  alias: string;
}

/** What a linked container gives the linking one (moby's daemon/links). */
export interface LinkedContainer {
  alias: string;
  /** The target's name, without the leading slash. */
  name: string;
  hostname: string;
  ip: string;
  env: readonly string[];
  exposedPorts: readonly string[];
}

/**
 * Parses a link as the API takes it (`name:alias`, `name`, or dockerd's own `/name:/parent/alias`
 * that inspect shows and clients send back on recreate).
 */
export function parseLink(entry: string): LinkSpec {
  const [targetPart = '', aliasPart] = entry.split(':');
  const target = targetPart.replace(/^\//, '');
  const alias = (aliasPart ?? targetPart).split('/').pop() ?? '';
  if (!target || !alias || entry.split(':').length > 2) throw invalidArgument(`invalid link: "${entry}" (expected name:alias)`);
  return { target, alias };
}

/** The link as dockerd shows it in inspect's HostConfig.Links: `/target:/container/alias`. */
export function formatLink(link: LinkSpec, containerName: string): string {
  return `/${link.target}:/${containerName.replace(/^\//, '')}/${link.alias}`;
}

/**
 * The /etc/hosts entry of a link: the alias, the target's hostname and (when it differs from the
 * alias) its name, as moby's buildSandboxOptions.
 */
export function linkHostEntry(linked: LinkedContainer): { host: string; ip: string } {
  const names = [linked.alias, linked.hostname, ...(linked.alias !== linked.name ? [linked.name] : [])];
  return { host: names.join(' '), ip: linked.ip };
}

/**
 * The environment a link gives (moby's links.Link.ToEnv): <ALIAS>_NAME, <ALIAS>_PORT (the
 * lowest port, TCP first), <ALIAS>_PORT_<port>_<PROTO>[_ADDR|_PORT|_PROTO] for each exposed
 * port, and <ALIAS>_ENV_<name> for the target's variables (HOME and PATH left out). Not made:
 * moby's extra _START/_END variables for runs of consecutive ports.
 */
export function linkEnv(linked: LinkedContainer, containerName: string): string[] {
  const prefix = linked.alias.toUpperCase().replaceAll('-', '_');
  const env: string[] = [];
  const ports = linked.exposedPorts
    .map((key) => {
      const [port = '', proto = 'tcp'] = key.split('/');
      return { port: Number(port), proto };
    })
    .filter((p) => p.port > 0);
  // The default port: the lowest, TCP first on a tie; the others TCP ones first (moby's withTCPPriority).
  const [first] = [...ports].sort((a, b) => a.port - b.port || (a.proto === 'tcp' ? -1 : b.proto === 'tcp' ? 1 : 0));
  if (first) env.push(`${prefix}_PORT=${first.proto}://${linked.ip}:${first.port}`);
  ports.sort((a, b) => (a.proto === b.proto ? a.port - b.port : a.proto === 'tcp' ? -1 : b.proto === 'tcp' ? 1 : a.port - b.port));
  for (const { port, proto } of ports) {
    const key = `${prefix}_PORT_${port}_${proto.toUpperCase()}`;
    env.push(`${key}=${proto}://${linked.ip}:${port}`, `${key}_ADDR=${linked.ip}`, `${key}_PORT=${port}`, `${key}_PROTO=${proto}`);
  }
  env.push(`${prefix}_NAME=/${containerName.replace(/^\//, '')}/${linked.alias}`);
  for (const variable of linked.env) {
    const eq = variable.indexOf('=');
    if (eq <= 0) continue;
    const name = variable.slice(0, eq);
    if (name === 'HOME' || name === 'PATH') continue;
    env.push(`${prefix}_ENV_${name}=${variable.slice(eq + 1)}`);
  }
  return env;
}
