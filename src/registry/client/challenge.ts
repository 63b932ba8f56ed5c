/** One auth challenge from a WWW-Authenticate header (RFC 7235), e.g. Bearer realm="...",service="...". */
export interface Challenge {
  /** Lower-cased: "bearer", "basic". */
  scheme: string;
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/**
 * Parses every challenge of one or more WWW-Authenticate values. Parameters may be tokens or
 * quoted strings with backslash escapes; unknown syntax ends the parse rather than guessing.
 */
export function parseChallenges(values: string | string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  for (const value of values === undefined ? [] : Array.isArray(values) ? values : [values]) {
    let rest = value.trim();
    let current: Challenge | undefined;
    while (rest.length > 0) {
      const name = TOKEN.exec(rest)?.[0];
      if (name === undefined) break;
      const after = rest.slice(name.length).trimStart();
      if (after.startsWith('=') && current !== undefined) {
        // A parameter of the current challenge.
        let v = after.slice(1).trimStart();
        let val: string;
        if (v.startsWith('"')) {
          val = '';
          let i = 1;
          for (; i < v.length && v[i] !== '"'; i++) {
            if (v[i] === '\\' && i + 1 < v.length) i++;
            val += v[i];
          }
          v = v.slice(i + 1);
        } else {
          // Unquoted: up to the next comma (registries send URLs unquoted, which a strict token would cut).
          val = /^[^,\s]*/.exec(v)?.[0] ?? '';
          v = v.slice(val.length);
        }
        current.params[name.toLowerCase()] = val;
        rest = v.trimStart().replace(/^,/, '').trimStart();
      } else {
        current = { scheme: name.toLowerCase(), params: {} };
        out.push(current);
        rest = after.replace(/^,/, '').trimStart();
      }
    }
  }
  return out;
}
