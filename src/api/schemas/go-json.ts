import { Kind, Type, type TNull, type TOptional, type TSchema, type TUnion } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { ValueError } from '@sinclair/typebox/errors';
import { invalidArgument } from '../../errors';

/**
 * JSON Schemas for request bodies that decode the way dockerd's Go structs do, built with
 * TypeBox: every struct field may be absent or null (Go leaves the zero value), unknown fields
 * are ignored, numbers must fit the Go type. A body that does not fit is refused with the
 * message moby gives for it, which names the field:
 * `invalid JSON: json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Image of type string`.
 */

/** The Go type a schema stands for, shown in error messages. */
const GO_TYPE = 'goType';

type GoSchema = TSchema & { [GO_TYPE]?: string };

export const str = () => Type.String({ [GO_TYPE]: 'string' });
export const bool = () => Type.Boolean({ [GO_TYPE]: 'bool' });
export const int = (goType = 'int64') => Type.Integer({ [GO_TYPE]: goType });
export const uint = (goType = 'uint64', maximum?: number) => Type.Integer({ [GO_TYPE]: goType, minimum: 0, ...(maximum === undefined ? {} : { maximum }) });
export const uint16 = () => uint('uint16', 0xffff);
export const uint32 = () => uint('uint32', 0xffffffff);
export const list = <T extends TSchema>(items: T) => Type.Array(items, { [GO_TYPE]: `[]${goTypeOf(items)}` });
export const strings = () => list(str());
/** moby's strslice.StrSlice: a list of strings, or one string. */
export const strSlice = () => Type.Union([Type.Array(str()), str()], { [GO_TYPE]: 'strslice.StrSlice' });
export const map = <T extends TSchema>(values: T) => Type.Record(Type.String(), values, { [GO_TYPE]: `map[string]${goTypeOf(values)}` });
export const strMap = () => map(str());
/** map[string]struct{} (port and volume sets): the values carry nothing. */
export const set = () => Type.Record(Type.String(), Type.Union([Type.Object({}), Type.Null()]), { [GO_TYPE]: 'map[string]struct {}' });
/** A Go struct: the listed fields, each optional and nullable; others are ignored. */
export function struct<P extends Record<string, TSchema>>(goType: string, fields: P) {
  const properties = Object.fromEntries(Object.entries(fields).map(([name, schema]) => [name, Type.Optional(Type.Union([schema, Type.Null()]))])) as {
    [K in keyof P]: TOptional<TUnion<[P[K], TNull]>>;
  };
  return Type.Object(properties, { [GO_TYPE]: goType });
}

function goTypeOf(schema: TSchema): string {
  return (schema as GoSchema)[GO_TYPE] ?? 'interface {}';
}

/** A compiled decoder for one request body type. */
export interface BodyDecoder<T> {
  /** The body as T; undefined for an empty body or `null`. Throws InvalidArgument (400). */
  decode(value: unknown): T | undefined;
}

/**
 * `root` is the Go type dockerd decodes into (ContainerConfigWrapper, ExecConfig, ...), the
 * first word of the field path in messages. T is the wire interface the schema describes.
 */
export function bodyDecoder<T>(root: string, schema: TSchema): BodyDecoder<T> {
  const check: TypeCheck<TSchema> = TypeCompiler.Compile(schema);
  return {
    decode(raw: unknown): T | undefined {
      if (raw === undefined || raw === null) return undefined;
      const value = foldFieldNames(schema, raw);
      if (check.Check(value)) return value as T;
      const first = check.Errors(value).First();
      throw invalidArgument(`invalid JSON: ${first ? goMessage(root, schema, deepest(first)) : `json: cannot decode into Go value of type ${root}`}`);
    },
  };
}

/**
 * The value with its struct field names spelled as the schema spells them: Go's
 * encoding/json matches a key to a field exactly, else case-insensitively, so dockerd takes
 * `{"image":"busybox","cmd":["true"]}`. Map keys (labels, env-like maps) stay as they are;
 * of two keys naming one field the later wins, as in Go.
 */
export function foldFieldNames(schema: TSchema, value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const target = variantFor(schema, value);
  if (!target) return value;
  if (Array.isArray(value)) {
    return target[Kind] === 'Array' ? value.map((item) => foldFieldNames(target.items as TSchema, item)) : value;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (target[Kind] === 'Record') {
    const values = Object.values(target.patternProperties as Record<string, TSchema>)[0]!;
    return Object.fromEntries(entries.map(([key, item]) => [key, foldFieldNames(values, item)]));
  }
  if (target[Kind] !== 'Object') return value;
  const properties = target.properties as Record<string, TSchema>;
  const folded = foldedNames(target);
  const result: Record<string, unknown> = {};
  for (const [key, item] of entries) {
    const name = key in properties ? key : (folded.get(key.toLowerCase()) ?? key);
    result[name] = name in properties ? foldFieldNames(properties[name]!, item) : item;
  }
  return result;
}

/** The schema (or union variant) that describes `value`'s JSON kind. */
function variantFor(schema: TSchema, value: object): TSchema | undefined {
  if (schema[Kind] !== 'Union') return schema;
  const wanted = Array.isArray(value) ? ['Array'] : ['Object', 'Record'];
  return (schema.anyOf as TSchema[]).map((variant) => variantFor(variant, value)).find((variant) => variant !== undefined && wanted.includes(variant[Kind]));
}

const foldedNameCache = new WeakMap<TSchema, Map<string, string>>();

/** lower-cased field name → field name, for one struct schema. */
function foldedNames(schema: TSchema): Map<string, string> {
  let names = foldedNameCache.get(schema);
  if (!names) {
    names = new Map(Object.keys(schema.properties as Record<string, TSchema>).map((name) => [name.toLowerCase(), name]));
    foldedNameCache.set(schema, names);
  }
  return names;
}

/** A union error (nullable field, string-or-list) reports its failing non-null variant. */
function deepest(error: ValueError): ValueError {
  if ((error.schema as GoSchema)[GO_TYPE] === undefined && error.errors.length > 0) {
    for (const variant of error.errors) {
      const first = variant.First();
      if (first && first.schema[Kind] !== 'Null') return deepest(first);
    }
  }
  return error;
}

/** Go's json error text for a value that does not fit `error.schema` at `error.path`. */
function goMessage(root: string, rootSchema: TSchema, error: ValueError): string {
  const fields = structFieldPath(rootSchema, error.path);
  const where = fields.length === 0 ? `Go value of type ${root}` : `Go struct field ${[root, ...fields].join('.')}`;
  const goType = goTypeOf(error.schema);
  const kind = jsonKind(error.value);
  // Go names the number itself when its kind fits but its value does not (1.5 or -1 for an int type).
  const what = kind === 'number' && error.schema[Kind] === 'Integer' ? `number ${String(error.value)}` : kind;
  return fields.length === 0 ? `json: cannot unmarshal ${what} into ${where}` : `json: cannot unmarshal ${what} into ${where} of type ${goType}`;
}

/** The struct field names along a JSON pointer, skipping array indexes and map keys, as Go prints them. */
function structFieldPath(schema: TSchema, pointer: string): string[] {
  const names: string[] = [];
  let current: TSchema | undefined = schema;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    current = current && withoutNull(current);
    if (!current) break;
    if (current[Kind] === 'Object') {
      names.push(segment);
      current = (current.properties as Record<string, TSchema>)[segment];
    } else if (current[Kind] === 'Array') {
      current = current.items as TSchema;
    } else if (current[Kind] === 'Record') {
      current = Object.values(current.patternProperties as Record<string, TSchema>)[0];
    } else {
      break;
    }
  }
  return names;
}

/** The non-null variant of a nullable field. */
function withoutNull(schema: TSchema): TSchema {
  if (schema[Kind] !== 'Union' || (schema as GoSchema)[GO_TYPE] !== undefined) return schema;
  const variants = (schema.anyOf as TSchema[]).filter((s) => s[Kind] !== 'Null');
  return variants.length === 1 ? variants[0]! : schema;
}

function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'bool';
  return typeof value === 'object' ? 'object' : typeof value;
}
