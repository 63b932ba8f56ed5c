import { invalidArgument } from '../../errors';

/**
 * The bytes Go's encoding/json writes, for the one place berth must write a config exactly
 * as dockerd would (a legacy archive's layers become images whose IDs, the sha256 of those
 * bytes, should be dockerd's): raw values compacted with Go's HTML-safe escapes, map keys
 * sorted by bytes, strings escaped as Go escapes them, times in RFC 3339 with nanoseconds.
 */

/** Go's escape for one character inside a string, or undefined when it is written as is. */
function goEscape(code: number): string | undefined {
  if (code < 0x20 || code === 0x3c || code === 0x3e || code === 0x26 || code === 0x2028 || code === 0x2029) {
    return `\\u${code.toString(16).padStart(4, '0')}`;
  }
  if (code >= 0xd800 && code <= 0xdfff) return '\ufffd'; // a lone surrogate: Go writes U+FFFD
  return undefined;
}

/** json.Marshal of a Go string. */
export function goString(s: string): string {
  const out: string[] = ['"'];
  for (const ch of s) {
    const code = ch.codePointAt(0) as number;
    if (ch === '"') out.push('\\"');
    else if (ch === '\\') out.push('\\\\');
    else if (ch === '\n') out.push('\\n');
    else if (ch === '\r') out.push('\\r');
    else if (ch === '\t') out.push('\\t');
    else out.push(goEscape(code) ?? ch);
  }
  out.push('"');
  return out.join('');
}

/** json.Compact with HTML escaping: what json.Marshal writes for a json.RawMessage. */
export function goCompact(raw: string): string {
  const out: string[] = [];
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (inString) {
      if (c === '\\') {
        out.push(c, raw[i + 1]);
        i++;
        continue;
      }
      if (c === '"') inString = false;
      const code = c.charCodeAt(0);
      out.push(code === 0x3c || code === 0x3e || code === 0x26 || code === 0x2028 || code === 0x2029 ? (goEscape(code) as string) : c);
    } else if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') {
      if (c === '"') inString = true;
      out.push(c);
    }
  }
  return out.join('');
}

/** json.Marshal of a map[string]json.RawMessage: keys sorted by their UTF-8 bytes. */
export function goObject(members: Map<string, string>): string {
  const keys = [...members.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return `{${keys.map((k) => `${goString(k)}:${goCompact(members.get(k) as string)}`).join(',')}}`;
}

/**
 * The top-level members of a JSON object as raw text (json.Unmarshal into a
 * map[string]*json.RawMessage: a repeated key keeps its last value). `text` must be
 * valid JSON (parse it first); a top level that is not an object is refused.
 */
export function rawMembers(text: string): Map<string, string> {
  const members = new Map<string, string>();
  let i = skipSpace(text, 0);
  if (text[i] !== '{') throw invalidArgument('not a JSON object');
  i = skipSpace(text, i + 1);
  if (text[i] === '}') return members;
  for (;;) {
    const keyEnd = scanString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, keyEnd) + 1; // the ':'
    i = skipSpace(text, i);
    const valueEnd = scanValue(text, i);
    members.set(key, text.slice(i, valueEnd));
    i = skipSpace(text, valueEnd);
    if (text[i] === '}') return members;
    i = skipSpace(text, i + 1); // the ','
  }
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  return i;
}

/** `i` is at a string's opening quote; returns the index after its closing quote. */
function scanString(text: string, i: number): number {
  let j = i + 1;
  while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
  return j + 1;
}

function scanValue(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return scanString(text, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    let j = i;
    while (j < text.length) {
      const d = text[j];
      if (d === '"') {
        j = scanString(text, j);
        continue;
      }
      if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    return j;
  }
  let j = i;
  while (j < text.length && !',}] \t\n\r'.includes(text[j])) j++;
  return j;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A time as Go's time.Time round-trips it through JSON (parsed as RFC 3339, written as
 * RFC3339Nano): trailing zeros of the fraction cut, a zero offset written `Z`. Go's zero
 * time for a missing one.
 */
export function goTime(value: string | undefined): string {
  if (value === undefined) return '0001-01-01T00:00:00Z';
  const m = RFC3339.exec(value);
  if (!m) throw invalidArgument(`parsing time ${JSON.stringify(value)}: not RFC 3339`);
  const fraction = (m[2] ?? '').slice(0, 9).replace(/0+$/, '');
  const zone = m[3] === '+00:00' || m[3] === '-00:00' ? 'Z' : m[3];
  return `${m[1]}${fraction ? `.${fraction}` : ''}${zone}`;
}
