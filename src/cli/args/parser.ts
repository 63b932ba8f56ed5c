/**
 * Docker-style (pflag) argument parsing: `--name value`, `--name=value`, combined short
 * booleans (`-it`), a short flag's value attached (`-eA=1`) or next, repeated list flags
 * (`-e A -e B`), `--` ending flags, and optionally stopping at the first positional so
 * `run IMAGE CMD -x` leaves `-x` to the command.
 */

export type FlagKind = 'bool' | 'string' | 'strings' | 'int';

export interface FlagSpec {
  kind: FlagKind;
  short?: string;
  /** Other long names (old spellings docker still accepts). */
  aliases?: readonly string[];
  description?: string;
  default?: string | number | boolean;
  valueName?: string;
  hidden?: boolean;
  /** A string flag given as `--name` alone takes this value (pflag's NoOptDefVal); a value then needs `--name=value`. */
  noOptDefault?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

type ValueFor<F extends FlagSpec> = F['kind'] extends 'bool'
  ? boolean
  : F['kind'] extends 'strings'
    ? string[]
    : F['kind'] extends 'int'
      ? F extends { default: number } ? number : number | undefined
      : F extends { default: string } ? string : string | undefined;

export type ParsedFlags<S extends FlagSpecs> = { -readonly [K in keyof S]: ValueFor<S[K]> };

export interface ParseResult<S extends FlagSpecs> {
  flags: ParsedFlags<S>;
  args: string[];
  /** Long names of the flags given on the command line. */
  changed: Set<string>;
  help: boolean;
}

/** A usage mistake (unknown flag, missing value); the CLI prints it with a --help hint. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParseOptions {
  /** false: everything from the first positional on is positional (docker's SetInterspersed(false)). */
  interspersed?: boolean;
}

const FALSE_WORDS = new Set(['false', '0', 'f', 'F', 'FALSE', 'False']);
const TRUE_WORDS = new Set(['true', '1', 't', 'T', 'TRUE', 'True']);

export function parseArgs<S extends FlagSpecs>(argv: readonly string[], specs: S, opts: ParseOptions = {}): ParseResult<S> {
  const byLong = new Map<string, string>();
  const byShort = new Map<string, string>();
  const values: Record<string, string | number | boolean | string[] | undefined> = {};
  for (const [name, spec] of Object.entries(specs)) {
    byLong.set(name, name);
    for (const alias of spec.aliases ?? []) byLong.set(alias, name);
    if (spec.short) byShort.set(spec.short, name);
    values[name] = spec.kind === 'strings' ? [] : spec.kind === 'bool' ? (spec.default === true) : spec.default;
  }
  const changed = new Set<string>();
  const args: string[] = [];
  let help = false;

  const set = (name: string, display: string, raw: string | undefined): void => {
    const spec = specs[name]!;
    changed.add(name);
    switch (spec.kind) {
      case 'bool':
        if (raw === undefined || TRUE_WORDS.has(raw)) values[name] = true;
        else if (FALSE_WORDS.has(raw)) values[name] = false;
        else throw new UsageError(`invalid argument "${raw}" for "${display}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`);
        return;
      case 'int': {
        const n = Number(raw);
        if (raw === undefined || raw.trim() === '' || !Number.isInteger(n)) {
          throw new UsageError(`invalid argument "${raw}" for "${display}" flag: strconv.ParseInt: parsing "${raw}": invalid syntax`);
        }
        values[name] = n;
        return;
      }
      case 'strings':
        (values[name] as string[]).push(raw ?? '');
        return;
      case 'string':
        values[name] = raw;
        return;
    }
  };

  let i = 0;
  while (i < argv.length) {
    const arg = argv[i++]!;
    if (arg === '--') {
      args.push(...argv.slice(i));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const long = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      if (long === 'help') {
        help = true;
        continue;
      }
      const name = byLong.get(long);
      if (name === undefined) throw new UsageError(`unknown flag: --${long}`);
      const spec = specs[name]!;
      let raw: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
      if (raw === undefined && spec.noOptDefault !== undefined) raw = spec.noOptDefault;
      if (raw === undefined && spec.kind !== 'bool') {
        if (i >= argv.length) throw new UsageError(`flag needs an argument: --${long}`);
        raw = argv[i++]!;
      }
      set(name, flagDisplay(name, spec), raw);
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const ch = arg[j]!;
        if (ch === 'h' && !byShort.has('h')) {
          help = true;
          continue;
        }
        const name = byShort.get(ch);
        if (name === undefined) throw new UsageError(`unknown shorthand flag: '${ch}' in ${arg}`);
        const spec = specs[name]!;
        if (spec.kind === 'bool') {
          // `-d=false` form
          if (arg[j + 1] === '=') {
            set(name, flagDisplay(name, spec), arg.slice(j + 2));
            break;
          }
          set(name, flagDisplay(name, spec), undefined);
          continue;
        }
        let raw = arg.slice(j + 1);
        if (raw.startsWith('=')) raw = raw.slice(1);
        else if (raw === '') {
          if (i >= argv.length) throw new UsageError(`flag needs an argument: '${ch}' in -${ch}`);
          raw = argv[i++]!;
        }
        set(name, flagDisplay(name, spec), raw);
        break;
      }
      continue;
    }
    args.push(arg);
    if (opts.interspersed === false) {
      args.push(...argv.slice(i));
      break;
    }
  }
  return { flags: values as ParsedFlags<S>, args, changed, help };
}

export function flagDisplay(name: string, spec: FlagSpec): string {
  return spec.short ? `-${spec.short}, --${name}` : `--${name}`;
}

/** The OPTIONS part of `--help`, aligned like cobra's. */
export function formatFlagHelp(specs: FlagSpecs): string {
  const rows: Array<[string, string]> = [];
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.hidden) continue;
    const head = spec.short ? `-${spec.short}, --${name}` : `    --${name}`;
    const value = spec.kind === 'bool' ? '' : ` ${spec.valueName ?? (spec.kind === 'strings' ? 'list' : spec.kind)}`;
    let description = spec.description ?? '';
    if (spec.default !== undefined && spec.default !== false && spec.default !== '') description += ` (default ${JSON.stringify(spec.default)})`;
    rows.push([head + value, description]);
  }
  rows.push(['    --help', 'Print usage']);
  const width = Math.max(...rows.map(([h]) => h.length));
  return rows.map(([h, d]) => `  ${h.padEnd(width)}   ${d}`.trimEnd()).join('\n');
}
