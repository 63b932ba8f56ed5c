/**
 * Shapes shared by several routers. Filters arrive as JSON in a `filters` query parameter;
 * the server normalizes both Docker forms ({"label":["a=b"]} and the legacy
 * {"label":{"a=b":true}}) into this one.
 */
export type Filters = Record<string, string[]>;

/** Docker's `Labels` and similar string maps. */
export type StringMap = Record<string, string>;

/** One message of a JSON progress stream (pull, push, load, import, build). */
export interface JsonStreamMessage {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  aux?: Record<string, unknown>;
  error?: string;
  errorDetail?: { code?: number; message: string };
}

/** Docker's `{ "Id": "..." }` create answer (exec create, commit). */
export interface IdResponse {
  Id: string;
}
