import { installRoot } from './install-root';
import { CliContext } from './context';
import { parseArgs, UsageError, formatFlagHelp } from './args/parser';
import { COMMANDS, resolveCommand } from './registry';
import { StatusError, type CommandDefinition } from './command';

const PROGRAM = 'berth';

const GLOBAL_FLAGS = {
  host: { kind: 'strings', short: 'H', description: 'Daemon socket to connect to', valueName: 'list' },
  debug: { kind: 'bool', short: 'D', description: 'Enable debug mode' },
  'log-level': { kind: 'string', short: 'l', description: 'Set the logging level', default: 'info' },
  version: { kind: 'bool', short: 'v', description: 'Print version information and quit' },
} as const;


const USAGE = `
Usage:  ${PROGRAM} [OPTIONS] COMMAND

A Docker-compatible container engine

Common Commands:
  run         Create and run a new container from an image
  exec        Execute a command in a running container
  ps          List containers
  images      List images
  logs        Fetch the logs of a container
  inspect     Return low-level information on Docker objects
  info        Display system-wide information
  version     Show the Berth version information

Management Commands:
  container   Manage containers
  image       Manage images
  volume      Manage volumes
  network     Manage networks
  system      Manage Berth
  daemon      Start, stop and query the Berth daemon
  registry    Run a container image registry

Container commands: attach commit cp create diff export kill pause port prune rename restart rm start stats stop top unpause update wait
Image commands: bootstrap history import load prune pull rm save tag   (also: rmi tag save load import)
Volume commands: create inspect ls prune rm
Network commands: connect create disconnect inspect ls prune rm
System commands: df events info prune

Global Options:
${formatFlagHelp(GLOBAL_FLAGS)}

Run '${PROGRAM} COMMAND --help' for more information on a command.
`;

/** The management commands that only group others (`berth volume` alone prints their list). */
const GROUPS: Record<string, string> = { container: 'Manage containers', image: 'Manage images', volume: 'Manage volumes', network: 'Manage networks', system: 'Manage Berth', registry: 'Run a container image registry' };

/** docker's help for a management command: its sub-commands (modules loaded only here, for their descriptions). */
function groupHelp(noun: string): string {
  const lines = Object.keys(COMMANDS)
    .filter((path) => path.startsWith(`${noun} `))
    .sort()
    .map((path) => `  ${path.slice(noun.length + 1).padEnd(12)}${COMMANDS[path]!().default.description}`);
  return `\nUsage:  ${PROGRAM} ${noun} COMMAND\n\n${GROUPS[noun]}\n\nCommands:\n${lines.join('\n')}\n\nRun '${PROGRAM} ${noun} COMMAND --help' for more information on a command.\n`;
}

function commandHelp(name: string, def: CommandDefinition): string {
  return `\nUsage:  ${PROGRAM} ${def.usage}\n\n${def.description}\n\nOptions:\n${formatFlagHelp(def.flags)}\n`;
}

async function runCommand(ctx: CliContext, name: string, def: CommandDefinition, argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(argv, def.flags, { interspersed: def.interspersed });
  } catch (err: unknown) {
    if (err instanceof UsageError) {
      ctx.err(`${err.message}\nSee '${PROGRAM} ${name} --help'.\n`);
      return 125;
    }
    throw err;
  }
  if (parsed.help) {
    ctx.out(commandHelp(name, def));
    return 0;
  }
  const count = parsed.args.length;
  const min = def.minArgs ?? 0;
  const max = def.maxArgs ?? Infinity;
  if (count < min || count > max) {
    const want = min === max ? `exactly ${min} argument${min === 1 ? '' : 's'}` : count < min ? `at least ${min} argument${min === 1 ? '' : 's'}` : `at most ${max} argument${max === 1 ? '' : 's'}`;
    const wantText = max === 0 ? 'no arguments' : want;
    ctx.err(`"${PROGRAM} ${name}" ${max === 0 ? 'accepts' : 'requires'} ${wantText}.\nSee '${PROGRAM} ${name} --help'.\n\nUsage:  ${PROGRAM} ${def.usage}\n\n${def.description}\n`);
    return 1;
  }
  try {
    const code = await def.run(ctx, parsed.flags, parsed.args, parsed.changed);
    return code ?? 0;
  } catch (err: unknown) {
    // A flag value checked only when the command runs (--filter): docker's usage error.
    if (!(err instanceof UsageError)) throw err;
    ctx.err(`${err.message}\nSee '${PROGRAM} ${name} --help'.\n`);
    return 125;
  }
}

/** Maps an error to docker's message and exit status. */
function reportError(ctx: CliContext, err: unknown): number {
  if (err instanceof StatusError) {
    if (err.message) ctx.err(`${err.message}\n`);
    return err.status;
  }
  const { ClientError } = require('../client/errors') as typeof import('../client/errors');
  if (err instanceof ClientError) {
    ctx.err(`Error response from daemon: ${err.message}\n`);
    return 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  ctx.err(`${message}\n`);
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  let global;
  try {
    global = parseArgs(argv, GLOBAL_FLAGS, { interspersed: false });
  } catch (err: unknown) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\nSee '${PROGRAM} --help'.\n`);
    return 125;
  }
  if (global.flags.version) {
    process.stdout.write(`Berth version ${installRoot().version}\n`);
    return 0;
  }
  const hosts = global.flags.host;
  const ctx = new CliContext(PROGRAM, hosts[hosts.length - 1]);
  if (global.args.length === 0 || (global.help && global.args.length === 0)) {
    process.stdout.write(USAGE);
    return global.help ? 0 : global.args.length === 0 ? 0 : 1;
  }
  const [noun, next] = global.args;
  if (GROUPS[noun!] && (next === undefined || next === '--help' || next === '-h')) {
    process.stdout.write(groupHelp(noun!));
    return 0;
  }
  const resolved = resolveCommand(global.args);
  if (!resolved) {
    const [first, second] = global.args;
    const what = second !== undefined && ['container', 'image', 'volume', 'system', 'registry'].includes(first!) ? `${first} ${second}` : first;
    process.stderr.write(`${PROGRAM}: '${what}' is not a ${PROGRAM} command.\nSee '${PROGRAM} --help'\n`);
    return 1;
  }
  try {
    const def = COMMANDS[resolved.path]!().default;
    return await runCommand(ctx, resolved.typed, def, resolved.rest);
  } catch (err: unknown) {
    return reportError(ctx, err);
  }
}

/** Runs the CLI on this process's arguments and exits with its status. */
export function runMain(): void {
  const spareSocket = (require('./spare/start') as typeof import('./spare/start')).takeSpareRequest();
  main(process.argv.slice(2)).then(
    (code) => exitAfterFlush(code, spareSocket),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      exitAfterFlush(1, spareSocket);
    },
  );
}

if (require.main === module) runMain();

/** Exits once stdout and stderr have drained (a pipe may still hold output). */
export function exitAfterFlush(code: number, spareSocket?: string): void {
  let pending = 2;
  const done = () => {
    if (--pending !== 0) return;
    // After the output: the spare's start-up must not delay this command's.
    if (spareSocket) (require('./spare/start') as typeof import('./spare/start')).startSpare(spareSocket);
    process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}
