// Shell-word processing for Dockerfile arguments, following moby's shell lexer: quotes, the escape
// token, and `$VAR` / `${VAR}` with the `:-` `-` `:+` `+` `:?` `?` `#` `##` `%` `%%` forms.
// No command substitution, no arithmetic: Docker does not have them either.

export type EnvLookup = (name: string) => string | undefined;

export class ShellWordError extends Error {}

/** Looks names up in a `KEY=value` list; the last definition wins, as in moby. */
export function envLookup(env: readonly string[] | Record<string, string>): EnvLookup {
  if (!Array.isArray(env)) {
    const rec = env as Record<string, string>;
    return (name) => (Object.prototype.hasOwnProperty.call(rec, name) ? rec[name] : undefined);
  }
  const map = new Map<string, string>();
  for (const kv of env as readonly string[]) {
    const eq = kv.indexOf('=');
    if (eq < 0) map.set(kv, '');
    else map.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return (name) => map.get(name);
}

/** Expands one word: quotes removed, escapes applied, variables substituted. */
export function processWord(word: string, env: EnvLookup, escape = '\\'): string {
  return new Lexer(word, env, escape).run(false).join('');
}

/** Like processWord but splits on unquoted whitespace (used for EXPOSE, VOLUME, etc.). */
export function processWords(word: string, env: EnvLookup, escape = '\\'): string[] {
  return new Lexer(word, env, escape).run(true);
}

const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

class Lexer {
  private pos = 0;
  private readonly chars: string[];
  constructor(text: string, private readonly env: EnvLookup, private readonly escape: string) {
    this.chars = Array.from(text);
  }

  private peek(): string | undefined { return this.chars[this.pos]; }
  private next(): string | undefined { return this.chars[this.pos++]; }

  run(split: boolean): string[] {
    const words: string[] = [];
    let word = '';
    let inWord = false;
    while (this.peek() !== undefined) {
      const ch = this.peek()!;
      if (split && /\s/.test(ch)) {
        this.next();
        if (inWord) words.push(word);
        word = ''; inWord = false;
        continue;
      }
      if (ch === "'") { this.next(); word += this.singleQuoted(); inWord = true; continue; }
      if (ch === '"') { this.next(); word += this.doubleQuoted(); inWord = true; continue; }
      if (ch === '$') {
        const value = this.dollar();
        // Unquoted expansion splits into words when splitting (moby does the same).
        if (split) {
          const parts = value.split(/\s+/);
          for (let i = 0; i < parts.length; i++) {
            if (i > 0) { if (inWord || word) words.push(word); word = ''; inWord = false; }
            if (parts[i] !== '') { word += parts[i]; inWord = true; }
          }
        } else { word += value; inWord = true; }
        continue;
      }
      this.next();
      if (ch === this.escape) {
        const n = this.next();
        if (n !== undefined) word += n;
        inWord = true;
        continue;
      }
      word += ch;
      inWord = true;
    }
    if (inWord) words.push(word);
    return split ? words : [word];
  }

  private singleQuoted(): string {
    let out = '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new ShellWordError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return out;
      out += ch;
    }
  }

  private doubleQuoted(): string {
    let out = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw new ShellWordError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') { this.next(); return out; }
      if (ch === '$') { out += this.dollar(); continue; }
      this.next();
      if (ch === this.escape) {
        const n = this.peek();
        if (n === '"' || n === '$' || n === this.escape) { out += n; this.next(); continue; }
      }
      out += ch;
    }
  }

  /** At a `$`: returns the substituted text. */
  private dollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.name();
      return name === '' ? '$' : this.env(name) ?? '';
    }
    this.next();
    const name = this.name();
    if (name === '') throw new ShellWordError('bad substitution: missing variable name');
    const value = this.env(name);
    const op = this.next();
    if (op === undefined) throw new ShellWordError(`missing '}' in substitution of ${name}`);
    if (op === '}') return value ?? '';
    if (op === ':') {
      const mod = this.next();
      const arg = this.untilBrace();
      const empty = value === undefined || value === '';
      if (mod === '-') return empty ? arg : value!;
      if (mod === '+') return empty ? '' : arg;
      if (mod === '?') {
        if (empty) throw new ShellWordError(`${name}: ${arg === '' ? 'is not allowed to be unset' : arg}`);
        return value!;
      }
      throw new ShellWordError(`unsupported modifier (${mod ?? ''}) in substitution of ${name}`);
    }
    if (op === '-' || op === '+' || op === '?') {
      const arg = this.untilBrace();
      if (op === '-') return value === undefined ? arg : value;
      if (op === '+') return value === undefined ? '' : arg;
      if (value === undefined) throw new ShellWordError(`${name}: ${arg === '' ? 'is not allowed to be unset' : arg}`);
      return value;
    }
    if (op === '#' || op === '%') {
      const longest = this.peek() === op;
      if (longest) this.next();
      const pattern = this.untilBrace();
      return trimPattern(value ?? '', pattern, op === '#' ? 'prefix' : 'suffix', longest);
    }
    throw new ShellWordError(`unsupported modifier (${op}) in substitution of ${name}`);
  }

  private name(): string {
    let name = '';
    const first = this.peek();
    if (first === undefined) return '';
    if (/[0-9]/.test(first)) {
      while (this.peek() !== undefined && /[0-9]/.test(this.peek()!)) name += this.next();
      return name;
    }
    if (SPECIAL_PARAMS.has(first)) return this.next()!;
    while (this.peek() !== undefined && /[\p{L}\p{N}_]/u.test(this.peek()!)) name += this.next();
    return name;
  }

  /** The word of a `${name<op>word}` form, itself expanded, up to the closing brace. */
  private untilBrace(): string {
    let out = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw new ShellWordError("missing '}' in substitution");
      if (ch === '}') { this.next(); return out; }
      if (ch === "'") { this.next(); out += this.singleQuoted(); continue; }
      if (ch === '"') { this.next(); out += this.doubleQuoted(); continue; }
      if (ch === '$') { out += this.dollar(); continue; }
      this.next();
      if (ch === this.escape) { const n = this.next(); if (n !== undefined) out += n; continue; }
      out += ch;
    }
  }
}

/** Removes the shortest/longest prefix or suffix matching a shell glob pattern. */
function trimPattern(value: string, pattern: string, side: 'prefix' | 'suffix', longest: boolean): string {
  const re = new RegExp(`^${globToRegex(pattern)}$`, 's');
  const n = value.length;
  if (side === 'prefix') {
    const order = longest ? range(n, 0) : range(0, n);
    for (const i of order) if (re.test(value.slice(0, i))) return value.slice(i);
  } else {
    const order = longest ? range(0, n) : range(n, 0);
    for (const i of order) if (re.test(value.slice(i))) return value.slice(0, i);
  }
  return value;
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  if (from <= to) for (let i = from; i <= to; i++) out.push(i);
  else for (let i = from; i >= to; i--) out.push(i);
  return out;
}

function globToRegex(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) { re += '\\['; continue; }
      let body = glob.slice(i + 1, close);
      if (body.startsWith('!')) body = '^' + body.slice(1);
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else if (c === '\\' && i + 1 < glob.length) { re += escapeRe(glob[++i]); }
    else re += escapeRe(c);
  }
  return re;
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
