/**
 * A small evaluator for the Go text/template subset docker's --format uses:
 * `{{.Field.Sub}}`, `{{json .}}`, `{{.Label "x"}}` (a method of the context), pipelines
 * (`{{.Names | upper}}`), `{{if}}/{{else}}/{{end}}`, `{{range}}`, `{{with}}`, `{{- -}}` trimming,
 * `$` for the root, and docker's functions (json, join, split, index, upper, lower, title,
 * truncate, pad, len, print, println, printf, eq, ne, not, and, or).
 */

type Value = unknown;

type Operand =
  | { kind: 'field'; base: 'dot' | 'root'; path: string[] }
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'ident'; name: string }
  | { kind: 'pipe'; pipeline: Pipeline };

type Command = Operand[];
type Pipeline = Command[];

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipeline: Pipeline }
  | { kind: 'if' | 'with' | 'range'; pipeline: Pipeline; body: Node[]; elseBody: Node[] };

export class TemplateError extends Error {
  constructor(message: string) {
    super(`template: ${message}`);
    this.name = 'TemplateError';
  }
}

// ---- lexing ----

interface RawPiece {
  text?: string;
  action?: string;
}

function splitTemplate(source: string): RawPiece[] {
  const pieces: RawPiece[] = [];
  let pos = 0;
  while (pos < source.length) {
    const open = source.indexOf('{{', pos);
    if (open === -1) {
      pieces.push({ text: source.slice(pos) });
      break;
    }
    let text = source.slice(pos, open);
    let inner = open + 2;
    if (source.startsWith('- ', inner) || source.startsWith('-\t', inner) || source.startsWith('-\n', inner)) {
      text = text.replace(/\s+$/, '');
      inner += 1;
    }
    const close = findClose(source, inner);
    if (close === -1) throw new TemplateError('unclosed action');
    let end = close;
    let trimRight = false;
    if (source[close - 1] === '-' && /\s/.test(source[close - 2] ?? '')) {
      trimRight = true;
      end = close - 1;
    }
    if (text !== '') pieces.push({ text });
    pieces.push({ action: source.slice(inner, end).trim() });
    pos = close + 2;
    if (trimRight) while (pos < source.length && /\s/.test(source[pos]!)) pos++;
  }
  return pieces;
}

/** Finds `}}` outside string literals. */
function findClose(source: string, from: number): number {
  let i = from;
  while (i < source.length) {
    const ch = source[i]!;
    if (ch === '"' || ch === '`') {
      const quote = ch;
      i++;
      while (i < source.length && source[i] !== quote) i += source[i] === '\\' && quote === '"' ? 2 : 1;
      i++;
      continue;
    }
    if (source.startsWith('}}', i)) return i;
    i++;
  }
  return -1;
}

function tokenize(action: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < action.length) {
    const ch = action[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '|' || ch === '(' || ch === ')') {
      tokens.push(ch);
      i++;
      continue;
    }
    if (ch === '"' || ch === '`') {
      let j = i + 1;
      while (j < action.length && action[j] !== ch) j += action[j] === '\\' && ch === '"' ? 2 : 1;
      tokens.push(action.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < action.length && !/[\s|()]/.test(action[j]!)) j++;
    tokens.push(action.slice(i, j));
    i = j;
  }
  return tokens;
}

// ---- parsing ----

function parseOperand(token: string): Operand {
  if (token.startsWith('"')) return { kind: 'string', value: JSON.parse(token) as string };
  if (token.startsWith('`')) return { kind: 'string', value: token.slice(1, -1) };
  if (token === 'true' || token === 'false') return { kind: 'bool', value: token === 'true' };
  if (/^-?\d+(\.\d+)?$/.test(token)) return { kind: 'number', value: Number(token) };
  if (token === '.') return { kind: 'field', base: 'dot', path: [] };
  if (token.startsWith('.')) return { kind: 'field', base: 'dot', path: token.slice(1).split('.') };
  if (token === '$') return { kind: 'field', base: 'root', path: [] };
  if (token.startsWith('$.')) return { kind: 'field', base: 'root', path: token.slice(2).split('.') };
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(token)) return { kind: 'ident', name: token };
  throw new TemplateError(`unexpected "${token}" in command`);
}

function parsePipeline(tokens: string[]): Pipeline {
  let pos = 0;
  const parse = (): Pipeline => {
    const pipeline: Pipeline = [];
    let command: Command = [];
    while (pos < tokens.length) {
      const token = tokens[pos++]!;
      if (token === ')') break;
      if (token === '|') {
        if (command.length === 0) throw new TemplateError('missing command before "|"');
        pipeline.push(command);
        command = [];
        continue;
      }
      command.push(token === '(' ? { kind: 'pipe', pipeline: parse() } : parseOperand(token));
    }
    if (command.length === 0) throw new TemplateError('missing value for command');
    pipeline.push(command);
    return pipeline;
  };
  return parse();
}

function parseNodes(pieces: RawPiece[]): Node[] {
  let pos = 0;
  /** Parses until one of `terminators`; `elseIf` holds the tokens after `{{else if`. */
  const parseList = (terminators: string[]): { nodes: Node[]; end: string; elseIf?: string[] } => {
    const nodes: Node[] = [];
    while (pos < pieces.length) {
      const piece = pieces[pos++]!;
      if (piece.text !== undefined) {
        nodes.push({ kind: 'text', text: piece.text });
        continue;
      }
      const action = piece.action!;
      if (action.startsWith('/*')) continue;
      const tokens = tokenize(action);
      const keyword = tokens[0];
      if (keyword === 'end' || keyword === 'else') {
        if (!terminators.includes(keyword)) throw new TemplateError(`unexpected {{${keyword}}}`);
        if (keyword === 'else' && tokens[1] === 'if') return { nodes, end: 'else', elseIf: tokens.slice(2) };
        return { nodes, end: keyword };
      }
      if (keyword === 'if' || keyword === 'range' || keyword === 'with') {
        nodes.push(parseBlock(keyword, tokens.slice(1)));
        continue;
      }
      nodes.push({ kind: 'action', pipeline: parsePipeline(tokens) });
    }
    if (terminators.length > 0) throw new TemplateError('unexpected EOF');
    return { nodes, end: '' };
  };

  /** Parses a block's body up to and including its {{end}}. An {{else if}} nests an if that shares it. */
  const parseBlock = (kind: 'if' | 'range' | 'with', rest: string[]): Node => {
    if (rest.length === 0) throw new TemplateError(`missing value for ${kind}`);
    if (kind === 'range' && rest.includes(':=')) rest = rest.slice(rest.indexOf(':=') + 1);
    const pipeline = parsePipeline(rest);
    const body = parseList(['else', 'end']);
    let elseBody: Node[] = [];
    if (body.elseIf) elseBody = [parseBlock('if', body.elseIf)];
    else if (body.end === 'else') elseBody = parseList(['end']).nodes;
    return { kind, pipeline, body: body.nodes, elseBody };
  };

  return parseList([]).nodes;
}

// ---- evaluation ----

function isTruthy(value: Value): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0 || typeof (value as { toJSON?: unknown }).toJSON === 'function';
  return true;
}

/** Go's fmt %v rendering of JSON-ish values. */
export function goString(value: Value): string {
  if (value === undefined) return '<no value>';
  if (value === null) return '<nil>';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(goString).join(' ')}]`;
  if (typeof value === 'object') {
    const toString = (value as { toString?: () => string }).toString;
    if (toString && toString !== Object.prototype.toString) return toString.call(value);
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([k, v]) => `${k}:${goString(v)}`).join(' ')}]`;
  }
  return String(value);
}

/** `{{json .}}`: Go's json.Marshal (no HTML escaping, which docker disables). */
function toJson(value: Value): string {
  return JSON.stringify(value === undefined ? null : value) ?? 'null';
}

type TemplateFunction = (...args: Value[]) => Value;

const FUNCTIONS: Record<string, TemplateFunction> = {
  json: (v) => toJson(v),
  join: (list, sep) => (Array.isArray(list) ? list.map(goString).join(String(sep)) : goString(list)),
  split: (s, sep) => String(s).split(String(sep)),
  upper: (s) => String(s).toUpperCase(),
  lower: (s) => String(s).toLowerCase(),
  title: (s) => String(s).replace(/\b\w/g, (c) => c.toUpperCase()),
  truncate: (s, n) => [...String(s)].slice(0, Number(n)).join(''),
  pad: (s, l, r) => `${' '.repeat(Number(l))}${String(s)}${' '.repeat(Number(r))}`,
  len: (v) => (Array.isArray(v) || typeof v === 'string' ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0),
  index: (v, ...keys) => {
    let current: Value = v;
    for (const key of keys) {
      if (current === null || current === undefined) return undefined;
      current = (current as Record<string, unknown>)[String(key)];
    }
    return current;
  },
  print: (...args) => args.map(goString).join(''),
  println: (...args) => `${args.map(goString).join(' ')}\n`,
  printf: (format, ...args) => {
    let i = 0;
    return String(format).replace(/%([-+# 0]*\d*(?:\.\d+)?)([svdqt%])/g, (_m, _flags: string, verb: string) => {
      if (verb === '%') return '%';
      const arg = args[i++];
      return verb === 'q' ? JSON.stringify(goString(arg)) : goString(arg);
    });
  },
  eq: (a, ...bs) => bs.some((b) => a === b),
  ne: (a, b) => a !== b,
  not: (v) => !isTruthy(v),
  and: (...vs) => vs.find((v) => !isTruthy(v)) ?? vs[vs.length - 1],
  or: (...vs) => vs.find((v) => isTruthy(v)) ?? vs[vs.length - 1],
};

function lookupField(target: Value, name: string, args: Value[], hasArgs: boolean): Value {
  if (target === null || target === undefined) return undefined;
  if (typeof target !== 'object') throw new TemplateError(`can't evaluate field ${name} in type ${typeof target}`);
  const member = (target as Record<string, unknown>)[name];
  if (typeof member === 'function') return (member as (...a: Value[]) => Value).apply(target, args);
  if (hasArgs) throw new TemplateError(`${name} is not a method but has arguments`);
  return member;
}

class Evaluator {
  constructor(private readonly root: Value) {}

  run(nodes: Node[], dot: Value, out: string[]): void {
    for (const node of nodes) {
      switch (node.kind) {
        case 'text':
          out.push(node.text);
          break;
        case 'action':
          out.push(goString(this.pipeline(node.pipeline, dot)));
          break;
        case 'if': {
          const value = this.pipeline(node.pipeline, dot);
          this.run(isTruthy(value) ? node.body : node.elseBody, dot, out);
          break;
        }
        case 'with': {
          const value = this.pipeline(node.pipeline, dot);
          if (isTruthy(value)) this.run(node.body, value, out);
          else this.run(node.elseBody, dot, out);
          break;
        }
        case 'range': {
          const value = this.pipeline(node.pipeline, dot);
          const items = Array.isArray(value)
            ? value
            : value && typeof value === 'object'
              ? Object.keys(value).sort().map((k) => (value as Record<string, unknown>)[k])
              : [];
          if (items.length === 0) this.run(node.elseBody, dot, out);
          for (const item of items) this.run(node.body, item, out);
          break;
        }
      }
    }
  }

  private pipeline(pipeline: Pipeline, dot: Value): Value {
    let previous: Value[] = [];
    let result: Value;
    for (const command of pipeline) {
      result = this.command(command, dot, previous);
      previous = [result];
    }
    return result;
  }

  private command(command: Command, dot: Value, piped: Value[]): Value {
    const [head, ...rest] = command;
    if (head === undefined) return undefined;
    if (head.kind === 'ident') {
      const fn = FUNCTIONS[head.name];
      if (!fn) throw new TemplateError(`function "${head.name}" not defined`);
      return fn(...rest.map((op) => this.operand(op, dot)), ...piped);
    }
    if (head.kind === 'field' && (rest.length > 0 || piped.length > 0)) {
      const args = [...rest.map((op) => this.operand(op, dot)), ...piped];
      return this.field(head, dot, args);
    }
    if (rest.length > 0) throw new TemplateError(`can't give argument to non-function`);
    return this.operand(head, dot);
  }

  private field(op: Extract<Operand, { kind: 'field' }>, dot: Value, args: Value[]): Value {
    let current = op.base === 'root' ? this.root : dot;
    op.path.forEach((name, i) => {
      const last = i === op.path.length - 1;
      current = lookupField(current, name, last ? args : [], last && args.length > 0);
    });
    return current;
  }

  private operand(op: Operand, dot: Value): Value {
    switch (op.kind) {
      case 'string':
      case 'number':
      case 'bool':
        return op.value;
      case 'field':
        return this.field(op, dot, []);
      case 'pipe':
        return this.pipeline(op.pipeline, dot);
      case 'ident': {
        const fn = FUNCTIONS[op.name];
        if (!fn) throw new TemplateError(`function "${op.name}" not defined`);
        return fn();
      }
    }
  }
}

/** A parsed template; `execute(value)` renders it with `.` = value. */
export class Template {
  private readonly nodes: Node[];

  constructor(readonly source: string) {
    this.nodes = parseNodes(splitTemplate(source));
  }

  execute(value: Value): string {
    const out: string[] = [];
    new Evaluator(value).run(this.nodes, value, out);
    return out.join('');
  }
}

export function renderTemplate(source: string, value: Value): string {
  return new Template(source).execute(value);
}
