import { isPredefinedArg } from '../dockerfile/stages';
import { envLookup, type EnvLookup } from '../dockerfile/shell-words';

/**
 * A stage's ARG state, as moby's BuildArgs: the values given with --build-arg, the args the
 * Dockerfile declared (globally and in this stage), and which of them were used, for the
 * "were not consumed" warning.
 */
export class BuildArgs {
  /** Declared in this stage: name → value (undefined: declared without value). */
  private readonly declared = new Map<string, string | undefined>();

  constructor(
    private readonly given: Readonly<Record<string, string>>,
    /** Global ARGs (before the first FROM) with their resolved values. */
    private readonly globals: ReadonlyMap<string, string | undefined>,
    private readonly consumed: Set<string>,
  ) {}

  /** `ARG name[=default]`: the given value wins over the default; a global of that name gives its value. */
  declare(name: string, defaultValue: string | undefined): void {
    this.consumed.add(name);
    let value: string | undefined = this.given[name];
    if (value === undefined) value = defaultValue ?? (this.globals.has(name) ? this.globals.get(name) : undefined);
    this.declared.set(name, value);
  }

  /**
   * `NAME=value` of the args a RUN sees: declared ones with a value and predefined ones
   * given with --build-arg, less those the config's Env sets (ENV wins). Sorted by name.
   */
  runEnv(env: readonly string[]): string[] {
    const envNames = new Set(env.map((kv) => kv.split('=', 1)[0]));
    const out = new Map<string, string>();
    for (const [name, value] of this.declared) if (value !== undefined && !envNames.has(name)) out.set(name, value);
    for (const [name, value] of Object.entries(this.given)) {
      if (isPredefinedArg(name) && !out.has(name) && !envNames.has(name)) out.set(name, value);
    }
    return [...out].map(([k, v]) => `${k}=${v}`);
  }

  /** The args a RUN's history shows (`|N K=V ...`): moby's IsReferencedOrNotBuiltin, i.e. not predefined unless declared. */
  historyEnv(env: readonly string[]): string[] {
    return this.runEnv(env).filter((kv) => this.declared.has(kv.split('=', 1)[0])).sort();
  }

  /** Words are expanded against ENV first, then the args (moby looks ENV up before build args). */
  lookup(env: readonly string[]): EnvLookup {
    const fromEnv = envLookup(env);
    const fromArgs = envLookup(this.runEnv(env));
    return (name) => fromEnv(name) ?? fromArgs(name);
  }
}

/** Build args given but never declared by any stage built, nor predefined: moby's warning. */
export function unconsumedArgs(given: Readonly<Record<string, string>>, consumed: ReadonlySet<string>): string[] {
  return Object.keys(given).filter((k) => !consumed.has(k) && !isPredefinedArg(k)).sort();
}
