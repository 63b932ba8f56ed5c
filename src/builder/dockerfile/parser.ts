// Dockerfile parser: lines → instruction nodes with their line ranges, following moby's parser
// (parser directives, escape-char continuations, comments, heredocs, exec vs shell forms, flags).
import { DockerfileError } from './errors.js';

export interface Heredoc {
  name: string;
  content: string;
  /** false when the delimiter was quoted: no variable expansion inside. */
  expand: boolean;
  /** `<<-`: leading tabs were stripped from every line. */
  chomp: boolean;
}

export interface ParsedNode {
  /** Lower-case instruction keyword, e.g. `run`. */
  cmd: string;
  /** The instruction as written after joining continuation lines. */
  original: string;
  /** `--name=value` words before the arguments. */
  flags: string[];
  /** Arguments as moby's per-instruction line parser splits them. */
  args: string[];
  /** True for the exec (JSON array) form. */
  json: boolean;
  startLine: number;
  endLine: number;
  heredocs: Heredoc[];
  /** ONBUILD's trigger instruction. */
  child?: ParsedNode;
}

export interface ParseResult {
  nodes: ParsedNode[];
  escapeToken: string;
  directives: Record<string, string>;
  warnings: string[];
}

const WS = /[\t\v\f\r ]+/;
const DIRECTIVE = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$/;
const HEREDOC_COMMANDS = new Set(['run', 'copy', 'add']);

type LineParser = (rest: string, ctx: LineContext) => { args: string[]; json: boolean; child?: ParsedNode };
interface LineContext { escape: string; file: string; line: number }

export function parseDockerfile(text: string, file = 'Dockerfile'): ParseResult {
  const lines = text.replace(/^\uFEFF/, '').split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const directives: Record<string, string> = {};
  let escape = '\\';
  let directivesDone = false;
  const warnings: string[] = [];
  const nodes: ParsedNode[] = [];

  const readDirective = (raw: string, lineNo: number): void => {
    if (directivesDone) return;
    const m = DIRECTIVE.exec(raw);
    if (!m) { directivesDone = true; return; }
    const key = m[1].toLowerCase();
    if (key !== 'escape' && key !== 'syntax' && key !== 'check') { directivesDone = true; return; }
    if (key in directives) throw new DockerfileError(file, lineNo, `only one ${key} parser directive can be used`);
    if (key === 'escape') {
      // moby reads only the first character after `=`.
      m[2] = m[2][0];
      if (m[2] !== '`' && m[2] !== '\\') throw new DockerfileError(file, lineNo, `invalid escape token '${m[2]}' does not match ` + '` or \\');
      escape = m[2];
    }
    directives[key] = m[2];
  };
  const continuation = (line: string): [string, boolean] => {
    const re = new RegExp(`${escape === '\\' ? '\\\\' : '`'}[ \\t]*$`);
    return re.test(line) ? [line.replace(re, ''), false] : [line, true];
  };
  const isComment = (l: string): boolean => /^\s*#/.test(l);

  let i = 0;
  while (i < lines.length) {
    const raw = lines[i].replace(/^\s+/, '');
    readDirective(raw, i + 1);
    i++;
    const startLine = i;
    if (raw.startsWith('#')) continue;
    let [line, done] = continuation(raw);
    if (done && line === '') continue;
    let emptyContinuation = false;
    while (!done && i < lines.length) {
      const next = lines[i];
      i++;
      if (next.trim() === '' || isComment(next)) { emptyContinuation = emptyContinuation || next.trim() === ''; continue; }
      let part: string;
      [part, done] = continuation(next);
      line += part;
    }
    if (emptyContinuation) warnings.push(`${file}:${startLine}: empty continuation line`);
    const ctx: LineContext = { escape, file, line: startLine };
    const node = nodeFromLine(line, ctx);
    if (HEREDOC_COMMANDS.has(node.cmd)) {
      for (const spec of heredocSpecs(line, escape, node.json)) {
        const body: string[] = [];
        let closed = false;
        while (i < lines.length) {
          let l = lines[i];
          i++;
          if (spec.chomp) l = l.replace(/^\t+/, '');
          if (l === spec.name) { closed = true; break; }
          body.push(l + '\n');
        }
        if (!closed) throw new DockerfileError(file, startLine, `unterminated heredoc <<${spec.name}`);
        node.heredocs.push({ ...spec, content: body.join('') });
      }
    }
    node.startLine = startLine;
    node.endLine = i;
    nodes.push(node);
  }
  return { nodes, escapeToken: escape, directives, warnings };
}

function nodeFromLine(line: string, ctx: LineContext): ParsedNode {
  const trimmed = line.trim();
  const [word, restRaw = ''] = splitOnce(trimmed);
  const cmd = word.toLowerCase();
  const { rest, flags } = extractFlags(restRaw);
  const parser = DISPATCH[cmd] ?? (() => ({ args: [], json: false }));
  const parsed = parser(rest.trim(), ctx);
  return {
    cmd, original: line, flags, args: parsed.args, json: parsed.json, startLine: ctx.line, endLine: ctx.line,
    heredocs: [], ...(parsed.child ? { child: parsed.child } : {}),
  };
}

function splitOnce(s: string): [string, string?] {
  const m = WS.exec(s);
  if (!m) return [s];
  return [s.slice(0, m.index), s.slice(m.index + m[0].length)];
}

/** Leading `--flag` words; a bare `--` ends them (moby's extractBuilderFlags). */
function extractFlags(line: string): { rest: string; flags: string[] } {
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < line.length && /\s/.test(line[pos])) pos++;
    if (pos >= line.length) return { rest: '', flags };
    if (!line.startsWith('--', pos)) return { rest: line.slice(pos), flags };
    let word = '';
    let blankOk = false;
    let quote = '';
    for (; pos < line.length; pos++) {
      let ch = line[pos];
      if (quote) {
        if (ch === quote) { quote = ''; continue; }
        if (ch === '\\') { if (pos + 1 === line.length) { quote = ''; continue; } ch = line[++pos]; }
        word += ch;
        continue;
      }
      if (/\s/.test(ch)) break;
      if (ch === '"' || ch === "'") { quote = ch; blankOk = true; continue; }
      if (ch === '\\') { if (pos + 1 === line.length) continue; ch = line[++pos]; }
      word += ch;
    }
    if (word === '--') return { rest: pos < line.length ? line.slice(pos) : '', flags };
    if (blankOk || word.length > 0) flags.push(word);
  }
}

/** moby's parseWords: whitespace-split words that keep their quotes and escapes. */
export function parseWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  const chars = Array.from(rest);
  let word = '';
  let inWord = false;
  let quote = '';
  let blankOk = false;
  for (let p = 0; p < chars.length; p++) {
    let ch = chars[p];
    if (!inWord) {
      if (/\s/.test(ch)) continue;
      inWord = true;
    }
    if (quote) {
      if (ch === quote) quote = '';
      else if (ch === escape && quote !== "'") {
        if (p + 1 === chars.length) { quote = ''; continue; }
        word += ch;
        ch = chars[++p];
      }
      word += ch;
      continue;
    }
    if (/\s/.test(ch)) {
      if (blankOk || word.length > 0) words.push(word);
      word = ''; blankOk = false; inWord = false;
      continue;
    }
    if (ch === "'" || ch === '"') { quote = ch; blankOk = true; }
    if (ch === escape) {
      if (p + 1 === chars.length) continue;
      word += ch;
      ch = chars[++p];
    }
    word += ch;
  }
  if (inWord && (blankOk || word.length > 0)) words.push(word);
  return words;
}

function parseNameVal(key: string): LineParser {
  return (rest, ctx) => {
    const words = parseWords(rest, ctx.escape);
    if (words.length === 0) return { args: [], json: false };
    if (!words[0].includes('=')) {
      const [name, value] = splitOnce(rest);
      if (value === undefined) throw new DockerfileError(ctx.file, ctx.line, `${key} must have two arguments`);
      return { args: [name, value], json: false };
    }
    const args: string[] = [];
    for (const w of words) {
      const eq = w.indexOf('=');
      if (eq < 0) throw new DockerfileError(ctx.file, ctx.line, `Syntax error - can't find = in "${w}". Must be of the form: name=value`);
      args.push(w.slice(0, eq), w.slice(eq + 1));
    }
    return { args, json: false };
  };
}

const parseWhitespaceList: LineParser = (rest) => ({ args: rest === '' ? [] : rest.split(WS), json: false });
const parseString: LineParser = (rest) => ({ args: rest === '' ? [] : [rest], json: false });
const parseNameOrNameVal: LineParser = (rest, ctx) => ({ args: parseWords(rest, ctx.escape), json: false });

/** The exec form; null when `rest` is not a JSON array (then the shell form applies). */
function parseJsonArray(rest: string, ctx: LineContext): string[] | null {
  const t = rest.replace(/^\s+/, '');
  if (!t.startsWith('[')) return null;
  let value: unknown;
  try { value = JSON.parse(t); } catch { return null; }
  if (!Array.isArray(value)) return null;
  if (!value.every((v) => typeof v === 'string')) {
    throw new DockerfileError(ctx.file, ctx.line, 'when using JSON array syntax, arrays must be comprised of strings only');
  }
  return value as string[];
}

const parseMaybeJson: LineParser = (rest, ctx) => {
  if (rest === '') return { args: [], json: false };
  const arr = parseJsonArray(rest, ctx);
  return arr ? { args: arr, json: true } : { args: [rest], json: false };
};
const parseMaybeJsonToList: LineParser = (rest, ctx) => {
  const arr = parseJsonArray(rest, ctx);
  return arr ? { args: arr, json: true } : parseWhitespaceList(rest, ctx);
};
const parseHealthcheck: LineParser = (rest, ctx) => {
  const [type, cmd = ''] = splitOnce(rest);
  if (type === '') return { args: [], json: false };
  const parsed = parseMaybeJson(cmd.replace(/^\s+/, ''), ctx);
  return { args: [type, ...parsed.args], json: parsed.json };
};
const parseOnbuild: LineParser = (rest, ctx) => {
  if (rest === '') return { args: [], json: false };
  return { args: [], json: false, child: nodeFromLine(rest, ctx) };
};

const DISPATCH: Record<string, LineParser> = {
  add: parseMaybeJsonToList, arg: parseNameOrNameVal, cmd: parseMaybeJson, copy: parseMaybeJsonToList,
  entrypoint: parseMaybeJson, env: parseNameVal('ENV'), expose: parseWhitespaceList, from: parseWhitespaceList,
  healthcheck: parseHealthcheck, label: parseNameVal('LABEL'), maintainer: parseString, onbuild: parseOnbuild,
  run: parseMaybeJson, shell: parseMaybeJson, stopsignal: parseString, user: parseString,
  volume: parseMaybeJsonToList, workdir: parseString,
};

/**
 * Heredoc words (`<<EOF`, `<<-EOF`, `<<"EOF"`) of an instruction line, in order. As in moby, only
 * a whole word starting with `<<` counts, so `echo "<<EOF"` is no heredoc; exec form has none.
 */
function heredocSpecs(line: string, escape: string, json: boolean): Omit<Heredoc, 'content'>[] {
  if (json) return [];
  const specs: Omit<Heredoc, 'content'>[] = [];
  for (const word of parseWords(line, escape)) {
    const m = /^<<(-?)(["']?)([^"'<\s]+)\2$/.exec(word);
    if (m) specs.push({ name: m[3], chomp: m[1] === '-', expand: m[2] === '' });
  }
  return specs;
}

/** moby's Node.Dump s-expression, used to compare against the public parser corpus. */
export function dumpNode(node: ParsedNode): string {
  let s = node.cmd;
  if (node.flags.length > 0) s += ` [${node.flags.map(goQuote).join(' ')}]`;
  if (node.child) s += ` (${dumpNode(node.child)})`;
  for (const a of node.args) s += ` ${goQuote(a)}`;
  return s.trim();
}

/** Go's strconv.Quote. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    switch (ch) {
      case '"': out += '\\"'; continue;
      case '\\': out += '\\\\'; continue;
      case '\x07': out += '\\a'; continue;
      case '\b': out += '\\b'; continue;
      case '\f': out += '\\f'; continue;
      case '\n': out += '\\n'; continue;
      case '\r': out += '\\r'; continue;
      case '\t': out += '\\t'; continue;
      case '\v': out += '\\v'; continue;
    }
    if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c >= 0x80 && c < 0xa0) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + '"';
}
