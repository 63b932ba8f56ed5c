import { Template } from './template';
import { alignTabs } from './table';

/**
 * docker's --format handling: "table" (default columns), "table TEMPLATE" (headers then rows,
 * aligned), "json" (one JSON object per line), or a raw template (one line per item).
 */
export interface FormatSpec {
  /** The default template for "table" / no --format, e.g. "table {{.ID}}\t{{.Image}}". */
  defaultTable: string;
  /** Header text per field name, e.g. { ID: 'CONTAINER ID' }. */
  headers: Record<string, string>;
}

export function isTableFormat(format: string): boolean {
  return format === 'table' || format.startsWith('table ');
}

/** Renders `items` with `format` ('' = the default table); returns text without a trailing newline issue. */
export function renderList(format: string, items: unknown[], spec: FormatSpec): string {
  const chosen = format === '' || format === 'table' ? spec.defaultTable : format;
  if (chosen === 'json') return items.map((item) => `${JSON.stringify(item)}\n`).join('');
  const isTable = isTableFormat(chosen);
  const body = unescapeFormat(isTable ? chosen.slice('table'.length).replace(/^ /, '') : chosen);
  const template = new Template(body);
  const lines: string[] = [];
  if (isTable) lines.push(new Template(body).execute(headerContext(spec.headers)));
  for (const item of items) lines.push(template.execute(item));
  if (!isTable) return lines.map((l) => `${l}\n`).join('');
  const text = alignTabs(lines.join('\n'));
  return text.split('\n').map((l) => `${l.replace(/\s+$/, '')}\n`).join('');
}

/** docker turns the two characters `\t` and `\n` in a --format into real ones. */
export function unescapeFormat(format: string): string {
  return format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

/** A context whose every field is its header (upper-cased name when none is known). */
function headerContext(headers: Record<string, string>): unknown {
  return new Proxy(
    {},
    {
      get: (_t, prop) => {
        if (typeof prop !== 'string') return undefined;
        const header = headers[prop] ?? prop.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
        // methods like .Label "x" are called with args: answer with the header too
        const fn = () => header;
        fn.toString = () => header;
        return fn;
      },
    },
  );
}

/** Renders one value with a template (inspect -f, version -f, info -f). */
export function renderOne(format: string, value: unknown): string {
  if (format === 'json') return `${JSON.stringify(value)}\n`;
  return `${new Template(unescapeFormat(format)).execute(value)}\n`;
}
