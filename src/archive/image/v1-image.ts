import { invalidArgument } from '../../errors';
import { goString, goTime } from './go-json';

/**
 * dockerd re-encodes the json of a legacy layer made by Docker older than 1.8.3 (or naming
 * no version) through its `image.V1Image` struct before making a config of it (moby's
 * MakeConfigFromV1Config "fallback"): unknown keys go, keys match fields case-insensitively,
 * and every container config field is written in the struct's order. This does the same,
 * so such images get dockerd's IDs too. Values of the wrong type are refused, as Go's
 * decoder refuses them.
 */

type Json = unknown;
type Fail = (what: string) => Error;

/** Decoders and encoders of the Go types these structs use; `undefined` is Go's zero value / nil. */
interface GoType {
  decode(value: Json, at: string, fail: Fail, previous: unknown): unknown;
  /** The JSON text, or undefined when `omitempty` drops it. */
  encode(value: unknown, omitEmpty: boolean): string | undefined;
}

const str: GoType = {
  decode: (v, at, fail, prev) => (v === null ? prev : typeof v === 'string' ? v : fail(`${at} is not a string`)),
  encode: (v, omit) => (omit && !v ? undefined : goString((v as string | undefined) ?? '')),
};
const bool: GoType = {
  decode: (v, at, fail, prev) => (v === null ? prev : typeof v === 'boolean' ? v : fail(`${at} is not a boolean`)),
  encode: (v, omit) => (omit && !v ? undefined : v ? 'true' : 'false'),
};
const int: GoType = {
  decode: (v, at, fail, prev) => (v === null ? prev : typeof v === 'number' && Number.isInteger(v) ? v : fail(`${at} is not an integer`)),
  encode: (v, omit) => (omit && !v ? undefined : String((v as number | undefined) ?? 0)),
};
const time: GoType = {
  decode: (v, at, fail, prev) => {
    if (v === null) return prev;
    if (typeof v !== 'string') return fail(`${at} is not a time`);
    try {
      return goTime(v);
    } catch {
      return fail(`${at}: parsing time ${JSON.stringify(v)}: not RFC 3339`);
    }
  },
  encode: (v) => goString((v as string | undefined) ?? goTime(undefined)),
};
/** []string; a null element is Go's "". */
const strings: GoType = {
  decode: (v, at, fail) => {
    if (v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => x !== null && typeof x !== 'string')) return fail(`${at} is not a list of strings`);
    return v.map((x) => (x === null ? '' : x));
  },
  encode: (v, omit) => (v === undefined ? (omit ? undefined : 'null') : omit && (v as string[]).length === 0 ? undefined : `[${(v as string[]).map(goString).join(',')}]`),
};
/** strslice.StrSlice: a list of strings, or one string. */
const strSlice: GoType = {
  decode: (v, at, fail, prev) => (typeof v === 'string' ? [v] : strings.decode(v, at, fail, prev)),
  encode: strings.encode,
};
/** map[string]struct{} (a set): keys sorted, each value {}. */
const set: GoType = {
  decode: (v, at, fail) => {
    if (v === null) return undefined;
    if (!isObject(v) || Object.values(v).some((x) => x !== null && !isObject(x))) return fail(`${at} is not an object of objects`);
    return Object.keys(v);
  },
  encode: (v, omit) => (v === undefined ? (omit ? undefined : 'null') : omit && (v as string[]).length === 0 ? undefined : `{${sortKeys(v as string[]).map((k) => `${goString(k)}:{}`).join(',')}}`),
};
/** map[string]string. */
const labels: GoType = {
  decode: (v, at, fail) => {
    if (v === null) return undefined;
    if (!isObject(v) || Object.values(v).some((x) => x !== null && typeof x !== 'string')) return fail(`${at} is not an object of strings`);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x ?? '']));
  },
  encode: (v, omit) => {
    if (v === undefined) return omit ? undefined : 'null';
    const m = v as Record<string, string>;
    return `{${sortKeys(Object.keys(m)).map((k) => `${goString(k)}:${goString(m[k])}`).join(',')}}`;
  },
};
/** A pointer: null is nil. */
function pointer(to: GoType): GoType {
  return {
    decode: (v, at, fail, prev) => (v === null ? undefined : to.decode(v, at, fail, prev)),
    encode: (v, omit) => (v === undefined ? (omit ? undefined : 'null') : to.encode(v, false)),
  };
}

interface Field {
  name: string;
  type: GoType;
  omitEmpty?: boolean;
}

/** A Go struct: fields matched exactly, else case-insensitively; unknown keys ignored. */
function struct(fields: Field[]): GoType {
  return {
    decode: (v, at, fail, prev) => {
      if (v === null) return prev;
      if (!isObject(v)) return fail(`${at} is not an object`);
      const values = new Map<string, unknown>(prev instanceof Map ? prev : []);
      for (const [key, x] of Object.entries(v)) {
        const field = fields.find((f) => f.name === key) ?? fields.find((f) => f.name.toLowerCase() === key.toLowerCase());
        if (field) values.set(field.name, field.type.decode(x, at ? `${at}.${key}` : key, fail, values.get(field.name)));
      }
      return values;
    },
    encode: (v) => {
      const values = (v as Map<string, unknown> | undefined) ?? new Map<string, unknown>();
      const parts: string[] = [];
      for (const f of fields) {
        const text = f.type.encode(values.get(f.name), f.omitEmpty ?? false);
        if (text !== undefined) parts.push(`${goString(f.name)}:${text}`);
      }
      return `{${parts.join(',')}}`;
    },
  };
}

const healthConfig = struct([
  { name: 'Test', type: strings, omitEmpty: true },
  { name: 'Interval', type: int, omitEmpty: true },
  { name: 'Timeout', type: int, omitEmpty: true },
  { name: 'StartPeriod', type: int, omitEmpty: true },
  { name: 'Retries', type: int, omitEmpty: true },
]);

/** api/types/container.Config. */
const containerConfig = struct([
  { name: 'Hostname', type: str },
  { name: 'Domainname', type: str },
  { name: 'User', type: str },
  { name: 'AttachStdin', type: bool },
  { name: 'AttachStdout', type: bool },
  { name: 'AttachStderr', type: bool },
  { name: 'ExposedPorts', type: set, omitEmpty: true },
  { name: 'Tty', type: bool },
  { name: 'OpenStdin', type: bool },
  { name: 'StdinOnce', type: bool },
  { name: 'Env', type: strings },
  { name: 'Cmd', type: strSlice },
  { name: 'Healthcheck', type: pointer(healthConfig), omitEmpty: true },
  { name: 'ArgsEscaped', type: bool, omitEmpty: true },
  { name: 'Image', type: str },
  { name: 'Volumes', type: set },
  { name: 'WorkingDir', type: str },
  { name: 'Entrypoint', type: strSlice },
  { name: 'NetworkDisabled', type: bool, omitEmpty: true },
  { name: 'MacAddress', type: str, omitEmpty: true },
  { name: 'OnBuild', type: strings },
  { name: 'Labels', type: labels },
  { name: 'StopSignal', type: str, omitEmpty: true },
  { name: 'StopTimeout', type: pointer(int), omitEmpty: true },
  { name: 'Shell', type: strSlice, omitEmpty: true },
]);

/** image.V1Image, with its JSON names. */
const v1Image = struct([
  { name: 'id', type: str, omitEmpty: true },
  { name: 'parent', type: str, omitEmpty: true },
  { name: 'comment', type: str, omitEmpty: true },
  { name: 'created', type: time },
  { name: 'container', type: str, omitEmpty: true },
  { name: 'container_config', type: containerConfig },
  { name: 'docker_version', type: str, omitEmpty: true },
  { name: 'author', type: str, omitEmpty: true },
  { name: 'config', type: pointer(containerConfig), omitEmpty: true },
  { name: 'architecture', type: str, omitEmpty: true },
  { name: 'variant', type: str, omitEmpty: true },
  { name: 'os', type: str, omitEmpty: true },
  { name: 'Size', type: int, omitEmpty: true },
]);

/** A layer's json decoded as Go decodes it into image.V1Image (field name → value). */
export type V1Image = Map<string, unknown>;

/** json.Unmarshal into image.V1Image; `name` is the archive file, for errors. */
export function decodeV1Image(v1: Record<string, unknown>, name: string): V1Image {
  const fail: Fail = (what) => {
    throw invalidArgument(`invalid archive: ${name}: ${what}`);
  };
  return v1Image.decode(v1, '', fail, undefined) as V1Image;
}

/** json.Marshal of image.V1Image: the json as dockerd's fallback writes it again. */
export function encodeV1Image(image: V1Image): string {
  return v1Image.encode(image, false) as string;
}

/** moby's HistoryFromConfig: created, author, container_config.Cmd joined by spaces, comment. */
export function historyOfV1Image(image: V1Image): { created: string; author?: string; created_by?: string; comment?: string } {
  const text = (key: string) => (image.get(key) as string | undefined) || undefined;
  const cmd = ((image.get('container_config') as Map<string, unknown> | undefined)?.get('Cmd') as string[] | undefined) ?? [];
  const createdBy = cmd.join(' ');
  return {
    created: text('created') ?? goTime(undefined),
    ...(text('author') ? { author: text('author') } : {}),
    ...(createdBy ? { created_by: createdBy } : {}),
    ...(text('comment') ? { comment: text('comment') } : {}),
  };
}

/** A string field of a decoded V1Image ("" when absent, as in Go). */
export function v1String(image: V1Image, key: 'os' | 'parent' | 'docker_version'): string {
  return (image.get(key) as string | undefined) ?? '';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sortKeys(keys: string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
