import type { FlagSpecs, ParsedFlags } from './args/parser';
import type { CliContext } from './context';

/** One CLI command: its flags, usage text and the action. Loaded lazily by the registry. */
export interface CommandDefinition<S extends FlagSpecs = FlagSpecs> {
  /** After the program name, e.g. "run [OPTIONS] IMAGE [COMMAND] [ARG...]". */
  usage: string;
  description: string;
  flags: S;
  /** false: flags after the first positional belong to it (run, exec, create). */
  interspersed?: boolean;
  minArgs?: number;
  maxArgs?: number;
  /** Resolves with the exit code (default 0). */
  run(ctx: CliContext, flags: ParsedFlags<S>, args: string[], changed: Set<string>): Promise<number | void>;
}

/** Keeps the flag literal types so `flags` is typed in `run`. */
export function defineCommand<const S extends FlagSpecs>(def: CommandDefinition<S>): CommandDefinition<S> {
  return def;
}

/** An error that sets the exit code, printed as is (docker's cli.StatusError). */
export class StatusError extends Error {
  constructor(readonly status: number, message = '') {
    super(message);
    this.name = 'StatusError';
  }
}

/** Shared flag specs. */
export const FORMAT_FLAG = { kind: 'string', description: 'Format output using a custom template', valueName: 'string' } as const;
