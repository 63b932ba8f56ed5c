import type { ParsedFlags } from '../../args/parser';
import { DEFAULT_HOST, parseHost } from '../../../client/host';

export const DAEMON_FLAGS = {
  'data-root': { kind: 'string', description: 'Root directory of persistent Berth state (default /var/lib/berth)' },
  'exec-root': { kind: 'string', description: 'Root directory for execution state files (default /run/berth)' },
  socket: { kind: 'string', description: 'Path of the API socket (default /run/berth/berth.sock)' },
} as const;

export function daemonArgs(flags: ParsedFlags<typeof DAEMON_FLAGS>): string[] {
  const args: string[] = [];
  if (flags['data-root']) args.push('--data-root', flags['data-root']);
  if (flags['exec-root']) args.push('--exec-root', flags['exec-root']);
  if (flags.socket) args.push('--socket', flags.socket);
  return args;
}

export function daemonHost(flags: ParsedFlags<typeof DAEMON_FLAGS>, hostFlag: string | undefined) {
  if (flags.socket) return parseHost(`unix://${flags.socket}`);
  return parseHost(hostFlag ?? DEFAULT_HOST);
}
