import * as http from 'node:http';
import { runCommand, type CommandResult } from './cli';

/**
 * The machinery of the docker-vs-berth comparison (test/e2e/docker-parity.test.ts): the same
 * command against two daemons, both answers normalised (IDs, times, data roots), and the
 * differences left named by a key (`case › step`, plus a JSON path for JSON answers) that an
 * intended-differences table can list.
 */

export interface Side {
  name: 'dockerd' | 'berth';
  /** `unix://…` for -H. */
  host: string;
  socket: string;
  /** Paths unique to this daemon (its temp root), shown as <root>. */
  roots: string[];
}

export interface Difference {
  key: string;
  dockerd: string;
  berth: string;
}

export interface IntendedDifference {
  /** A difference key, or a pattern for several. */
  key: string | RegExp;
  reason: string;
}

export interface StepOptions {
  input?: string | Buffer;
  /** Compare stdout as JSON, path by path (exit code and stderr still compared as text). */
  json?: boolean;
  /** Sort stdout lines before comparing (an order neither daemon promises). */
  sortLines?: boolean;
  /** Post-processes normalised stdout (e.g. a tar listing). */
  transform?: (stdout: Buffer) => Promise<string> | string;
  /** Extra environment (DOCKER_API_VERSION is pinned to the dockerd's). */
  env?: NodeJS.ProcessEnv;
  /** Only the exit code is compared (output that is legitimately different, like a new ID). */
  codeOnly?: boolean;
}

const HEX64 = /\b[a-f0-9]{64}\b/g;
const ONLY_ID = /^(sha256:)?[a-f0-9]{64}$/;
const TIMES: RegExp[] = [
  // RFC 3339 (inspect, events), Go's default time format (ps CreatedAt), tar listings.
  /\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)\b/g,
  /\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [+-]\d{4} \w+\b/g,
  /\b\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?\b/g,
];
const DURATIONS = /\b(Less than a second|About a minute|About an hour|an? (second|minute|hour|day|week|month|year)|\d+ (seconds?|minutes?|hours?|days?|weeks?|months?|years?))\b/g;

/** One daemon's view: which 64-hex IDs it has shown, numbered in order of appearance. */
export class Normaliser {
  private readonly ids = new Map<string, string>();
  constructor(
    private readonly side: Side,
    /** IDs both daemons share (the images loaded into both): shown as they are. */
    private readonly shared: Set<string>,
  ) {}

  /** Names an ID a step created (the Nth on each daemon gets the same placeholder). */
  register(id: string): void {
    if (!this.shared.has(id) && !this.ids.has(id)) this.ids.set(id, `<id${this.ids.size + 1}>`);
  }

  /** An ID both daemons show for the same object. */
  share(id: string): void {
    this.shared.add(id);
  }

  text(value: string): string {
    let out = value;
    for (const root of this.side.roots) out = out.split(root).join('<root>');
    // IDs both daemons share stay; one a step paired up gets its placeholder; any other is
    // only "an ID" (numbering it by appearance would shift every later one after a difference).
    out = out.replace(HEX64, (id) => (this.shared.has(id) ? id : (this.ids.get(id) ?? '<other-id>')));
    for (const [id, name] of this.ids) out = out.split(id.slice(0, 12)).join(name.replace('>', ':12>'));
    for (const pattern of TIMES) out = out.replace(pattern, '<time>');
    // A table's columns are padded to their widest cell, so "Up 9 seconds" on one daemon and
    // "Up 10 seconds" on the other shift every later column: compare cells, not padding.
    return out.replace(DURATIONS, '<duration>').replace(/ {2,}/g, '   ');
  }

  json(value: unknown): unknown {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((v) => this.json(v));
    if (value && typeof value === 'object') {
      // Process IDs differ from run to run, whoever runs the process.
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [this.text(k), k === 'Pid' && typeof v === 'number' && v > 0 ? '<pid>' : this.json(v)]));
    }
    return value;
  }
}

/** The paths at which two JSON values differ ("" for the root), with both values. */
export function jsonDifferences(a: unknown, b: unknown, path = ''): { path: string; a: unknown; b: unknown }[] {
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => {
      const sub = path ? `${path}.${k}` : k;
      if (!(k in a)) return [{ path: sub, a: '<absent>', b: b[k] }];
      if (!(k in b)) return [{ path: sub, a: a[k], b: '<absent>' }];
      return jsonDifferences(a[k], b[k], sub);
    });
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.some(isObject)) {
    return a.flatMap((v, i) => jsonDifferences(v, b[i], `${path}[${i}]`));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ path, a, b }];
}

export interface HttpAnswer {
  status: number;
  body: string;
}

export function httpRequest(socket: string, method: string, path: string, body?: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path, headers: body === undefined ? {} : { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs one comparison case: every step on both daemons at once, differences collected. */
export class ParityCase {
  readonly differences: Difference[] = [];

  constructor(
    readonly name: string,
    private readonly client: string,
    private readonly sides: { dockerd: Side; berth: Side },
    private readonly normalisers: { dockerd: Normaliser; berth: Normaliser },
    private readonly apiVersion: string,
  ) {}

  private exec(side: Side, args: string[], options: StepOptions): Promise<CommandResult> {
    return runCommand(this.client, ['-H', side.host, ...args], {
      input: options.input,
      timeoutMs: 60_000,
      env: { DOCKER_CONFIG: '/nonexistent-docker-config', DOCKER_CLI_HINTS: 'false', DOCKER_API_VERSION: this.apiVersion, ...options.env },
    });
  }

  /** Runs on both daemons without comparing (setup); fails the case if either fails. */
  async setup(args: string[], options: StepOptions = {}): Promise<{ dockerd: CommandResult; berth: CommandResult }> {
    const [d, b] = await Promise.all([this.exec(this.sides.dockerd, args, options), this.exec(this.sides.berth, args, options)]);
    if (d.code !== 0 || b.code !== 0) {
      throw new Error(`setup \`docker ${args.join(' ')}\` failed: dockerd ${d.code} ${d.stderr.trim()} | berth ${b.code} ${b.stderr.trim()}`);
    }
    this.registerIds(d.stdout, b.stdout);
    return { dockerd: d, berth: b };
  }

  /** Runs `args` on both and records how the normalised answers differ, under `label`. */
  async step(label: string, args: string[], options: StepOptions = {}): Promise<{ dockerd: CommandResult; berth: CommandResult }> {
    const [d, b] = await Promise.all([this.exec(this.sides.dockerd, args, options), this.exec(this.sides.berth, args, options)]);
    this.registerIds(d.stdout, b.stdout);
    const key = `${this.name} › ${label}`;
    if (d.code !== b.code) this.record(`${key} › exit code`, String(d.code), String(b.code));
    if (options.codeOnly) return { dockerd: d, berth: b };
    const nd = this.normalisers.dockerd;
    const nb = this.normalisers.berth;
    const errD = nd.text(d.stderr);
    const errB = nb.text(b.stderr);
    if (errD !== errB) this.record(`${key} › stderr`, errD, errB);
    if (options.json && d.code === 0 && b.code === 0) {
      const parsed = (text: string, n: Normaliser) => n.json(JSON.parse(text) as unknown);
      for (const diff of jsonDifferences(parsed(d.stdout, nd), parsed(b.stdout, nb))) {
        this.record(`${key} › ${diff.path}`, JSON.stringify(diff.a), JSON.stringify(diff.b));
      }
      return { dockerd: d, berth: b };
    }
    const out = async (r: CommandResult, n: Normaliser) => {
      let text = options.transform ? await options.transform(r.stdoutBytes) : r.stdout;
      text = n.text(text);
      return options.sortLines ? text.split('\n').sort().join('\n') : text;
    };
    const [outD, outB] = await Promise.all([out(d, nd), out(b, nb)]);
    if (outD !== outB) this.record(`${key} › stdout`, outD, outB);
    return { dockerd: d, berth: b };
  }

  /** A raw Engine API request on both sockets: status and body compared. */
  async http(label: string, method: string, path: string, body?: string): Promise<void> {
    const [d, b] = await Promise.all([httpRequest(this.sides.dockerd.socket, method, path, body), httpRequest(this.sides.berth.socket, method, path, body)]);
    const key = `${this.name} › ${label}`;
    if (d.status !== b.status) this.record(`${key} › status`, String(d.status), String(b.status));
    const bodyD = this.normalisers.dockerd.text(d.body.trimEnd());
    const bodyB = this.normalisers.berth.text(b.body.trimEnd());
    if (bodyD !== bodyB) this.record(`${key} › body`, bodyD, bodyB);
  }

  /**
   * Output that is nothing but new objects' IDs (create, run -d, commit, ps -q): the Nth ID on
   * each daemon gets the same placeholder. IDs inside other output are never paired.
   */
  private registerIds(dockerdOut: string, berthOut: string): void {
    const ids = (out: string) => {
      const lines = out.split('\n').filter(Boolean);
      return lines.length > 0 && lines.every((l) => ONLY_ID.test(l)) ? lines.map((l) => l.replace(/^sha256:/, '')) : [];
    };
    const d = ids(dockerdOut);
    const b = ids(berthOut);
    if (d.length !== b.length) return;
    d.forEach((id, i) => {
      if (id === b[i]) {
        // The same object on both (an image loaded into both): shown as it is.
        this.normalisers.dockerd.share(id);
        this.normalisers.berth.share(id);
        return;
      }
      this.normalisers.dockerd.register(id);
      this.normalisers.berth.register(b[i]!);
    });
  }

  private record(key: string, dockerd: string, berth: string): void {
    this.differences.push({ key, dockerd, berth });
  }
}

/** Which differences the table explains, which it does not, and which entries explain nothing. */
export function judge(differences: Difference[], table: IntendedDifference[]): { unexplained: Difference[]; explained: [Difference, string][]; used: Set<IntendedDifference> } {
  const used = new Set<IntendedDifference>();
  const unexplained: Difference[] = [];
  const explained: [Difference, string][] = [];
  for (const diff of differences) {
    const entry = table.find((e) => (typeof e.key === 'string' ? e.key === diff.key : e.key.test(diff.key)));
    if (entry) {
      used.add(entry);
      explained.push([diff, entry.reason]);
    } else {
      unexplained.push(diff);
    }
  }
  return { unexplained, explained, used };
}

export function describeDifference(diff: Difference): string {
  const show = (s: string) => (s.length > 600 ? `${s.slice(0, 600)}…` : s);
  return `${diff.key}\n    dockerd: ${JSON.stringify(show(diff.dockerd))}\n    berth:   ${JSON.stringify(show(diff.berth))}`;
}
