import type { CommandDefinition } from './command';

/** In CommonJS output `require` keeps loading lazy and synchronous (import() would go through the ESM loader). */
type CommandModule = { default: CommandDefinition };
type Loader = () => CommandModule;

/**
 * Every command by its full path ("container run"), loaded on demand so `berth run` reads
 * only the modules it needs.
 */
export const COMMANDS: Record<string, Loader> = {
  'container run': () => require('./commands/container/run') as CommandModule,
  'container create': () => require('./commands/container/create') as CommandModule,
  'container start': () => require('./commands/container/start') as CommandModule,
  'container stop': () => require('./commands/container/stop') as CommandModule,
  'container kill': () => require('./commands/container/kill') as CommandModule,
  'container restart': () => require('./commands/container/restart') as CommandModule,
  'container rm': () => require('./commands/container/rm') as CommandModule,
  'container ls': () => require('./commands/container/ls') as CommandModule,
  'container logs': () => require('./commands/container/logs') as CommandModule,
  'container exec': () => require('./commands/container/exec') as CommandModule,
  'container top': () => require('./commands/container/top') as CommandModule,
  'container inspect': () => require('./commands/container/inspect') as CommandModule,
  'container wait': () => require('./commands/container/wait') as CommandModule,
  'container pause': () => require('./commands/container/pause') as CommandModule,
  'container unpause': () => require('./commands/container/unpause') as CommandModule,
  'container rename': () => require('./commands/container/rename') as CommandModule,
  'container cp': () => require('./commands/container/cp') as CommandModule,
  'container diff': () => require('./commands/container/diff') as CommandModule,
  'container commit': () => require('./commands/container/commit') as CommandModule,
  'container export': () => require('./commands/container/export') as CommandModule,
  'container port': () => require('./commands/container/port') as CommandModule,
  'container update': () => require('./commands/container/update') as CommandModule,
  'container attach': () => require('./commands/container/attach') as CommandModule,
  'container prune': () => require('./commands/container/prune') as CommandModule,
  'container stats': () => require('./commands/container/stats') as CommandModule,
  'image ls': () => require('./commands/image/ls') as CommandModule,
  'image inspect': () => require('./commands/image/inspect') as CommandModule,
  'image rm': () => require('./commands/image/rm') as CommandModule,
  'image tag': () => require('./commands/image/tag') as CommandModule,
  'image history': () => require('./commands/image/history') as CommandModule,
  'image prune': () => require('./commands/image/prune') as CommandModule,
  'image save': () => require('./commands/image/save') as CommandModule,
  'image build': () => require('./commands/image/build') as CommandModule,
  'image load': () => require('./commands/image/load') as CommandModule,
  'image import': () => require('./commands/image/import') as CommandModule,
  'image pull': () => require('./commands/image/pull') as CommandModule,
  'image push': () => require('./commands/image/push') as CommandModule,
  'image bootstrap': () => require('./commands/image/bootstrap') as CommandModule,
  'volume create': () => require('./commands/volume/create') as CommandModule,
  'volume ls': () => require('./commands/volume/ls') as CommandModule,
  'volume inspect': () => require('./commands/volume/inspect') as CommandModule,
  'volume rm': () => require('./commands/volume/rm') as CommandModule,
  'volume prune': () => require('./commands/volume/prune') as CommandModule,
  'network create': () => require('./commands/network/create') as CommandModule,
  'network ls': () => require('./commands/network/ls') as CommandModule,
  'network inspect': () => require('./commands/network/inspect') as CommandModule,
  'network rm': () => require('./commands/network/rm') as CommandModule,
  'network prune': () => require('./commands/network/prune') as CommandModule,
  'network connect': () => require('./commands/network/connect') as CommandModule,
  'network disconnect': () => require('./commands/network/disconnect') as CommandModule,
  'system df': () => require('./commands/system/df') as CommandModule,
  'system prune': () => require('./commands/system/prune') as CommandModule,
  'system info': () => require('./commands/system/info') as CommandModule,
  'system events': () => require('./commands/system/events') as CommandModule,
  version: () => require('./commands/version') as CommandModule,
  login: () => require('./commands/registry/login') as CommandModule,
  logout: () => require('./commands/registry/logout') as CommandModule,
  inspect: () => require('./commands/inspect') as CommandModule,
  'daemon start': () => require('./commands/daemon/start') as CommandModule,
  'daemon stop': () => require('./commands/daemon/stop') as CommandModule,
  'daemon status': () => require('./commands/daemon/status') as CommandModule,
  'daemon run': () => require('./commands/daemon/run') as CommandModule,
  'registry serve': () => require('./commands/registry/serve') as CommandModule,
  'registry gc': () => require('./commands/registry/gc') as CommandModule,
};

/** Management-command aliases (`container ps`) and docker's top-level shortcuts. */
export const ALIASES: Record<string, string> = {
  'container ps': 'container ls',
  'container list': 'container ls',
  'container remove': 'container rm',
  'image list': 'image ls',
  'image remove': 'image rm',
  'image rmi': 'image rm',
  'volume list': 'volume ls',
  'volume remove': 'volume rm',
  'network list': 'network ls',
  'network remove': 'network rm',
  run: 'container run',
  create: 'container create',
  start: 'container start',
  stop: 'container stop',
  kill: 'container kill',
  restart: 'container restart',
  rm: 'container rm',
  ps: 'container ls',
  logs: 'container logs',
  exec: 'container exec',
  top: 'container top',
  stats: 'container stats',
  wait: 'container wait',
  pause: 'container pause',
  unpause: 'container unpause',
  rename: 'container rename',
  cp: 'container cp',
  diff: 'container diff',
  commit: 'container commit',
  export: 'container export',
  port: 'container port',
  update: 'container update',
  attach: 'container attach',
  images: 'image ls',
  rmi: 'image rm',
  tag: 'image tag',
  history: 'image history',
  save: 'image save',
  build: 'image build',
  load: 'image load',
  import: 'image import',
  pull: 'image pull',
  push: 'image push',
  info: 'system info',
  events: 'system events',
  'system events': 'system events',
  daemon: 'daemon run',
};

export const MANAGEMENT = ['container', 'image', 'volume', 'network', 'system', 'daemon', 'registry'];

/** Resolves argv to a command path and the remaining args, or undefined. */
export function resolveCommand(argv: string[]): { path: string; typed: string; rest: string[] } | undefined {
  const [first, second] = argv;
  if (first === undefined) return undefined;
  if (MANAGEMENT.includes(first) && second !== undefined && !second.startsWith('-')) {
    const two = `${first} ${second}`;
    const path = COMMANDS[two] ? two : ALIASES[two];
    if (path) return { path, typed: two, rest: argv.slice(2) };
    if (first !== 'daemon') return undefined;
  }
  const path = COMMANDS[first] ? first : ALIASES[first];
  return path ? { path, typed: first, rest: argv.slice(1) } : undefined;
}
