import { spawnSync } from 'node:child_process';
import { createSign, randomBytes, X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A small Docker token-auth server for tests (https://distribution.github.io/distribution/spec/auth/token/):
 * GET /token?service=&scope=&account= with Basic credentials (or none: anonymous) answers a
 * JWT signed RS256 with an x5c header, which Debian's docker-registry verifies against the
 * certificate. `grant` decides which actions each user gets; every request is recorded.
 * It is also the failure-injection point: `answer` may replace the response.
 */
export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certPem: string;
  requests: Array<{ method: string; account?: string; user?: string; scopes: string[]; form?: Record<string, string> }>;
  /** Replace the next answers (status, body) to inject failures; undefined: normal tokens. */
  answer?: (req: http.IncomingMessage) => { status: number; body: string } | undefined;
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export async function startTokenServer(opts: {
  users: Record<string, string>;
  /** Actions granted to `user` (undefined: anonymous) on `repo`, out of the asked `actions`. */
  grant: (user: string | undefined, repo: string, actions: string[]) => string[];
  /** Give a refresh token (for login with offline_token=true). */
  refreshTokens?: boolean;
}): Promise<TokenServer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-token-'));
  const made = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=berth-test-token'],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  const keyPem = await fs.readFile(path.join(dir, 'key.pem'), 'utf8');
  const certPem = await fs.readFile(path.join(dir, 'cert.pem'), 'utf8');
  await fs.rm(dir, { recursive: true, force: true });
  const certDer = new X509Certificate(certPem).raw.toString('base64');
  const service = 'berth-test-registry';
  const issuer = 'berth-test-issuer';
  const refresh = new Map<string, string>();

  const state: TokenServer = { realm: '', service, issuer, certPem, requests: [], stop: async () => undefined };

  const sign = (user: string | undefined, scopes: string[]): string => {
    const access = scopes.flatMap((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = (rest.pop() ?? '').split(',').filter((a) => a !== '');
      const name = rest.join(':');
      if (type !== 'repository') return [];
      return [{ type, name, actions: opts.grant(user, name, actions).filter((a) => actions.includes(a)) }];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer] };
    const claims = { iss: issuer, sub: user ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(input).sign(keyPem);
    return `${input}.${b64url(signature)}`;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const injected = state.answer?.(req);
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(typeof body === 'string' ? body : JSON.stringify(body));
      };
      let user: string | undefined;
      let scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
      let form: Record<string, string> | undefined;
      if (req.method === 'POST') {
        form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString()));
        scopes = (form.scope ?? '').split(' ').filter((s) => s !== '');
        user = refresh.get(form.refresh_token ?? '');
      } else {
        const auth = req.headers.authorization;
        if (auth?.startsWith('Basic ')) {
          const [u, ...p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
          if (u === undefined || opts.users[u] !== p.join(':')) {
            state.requests.push({ method: req.method ?? '', account: url.searchParams.get('account') ?? undefined, scopes });
            return send(401, { details: 'incorrect username or password' });
          }
          user = u;
        }
      }
      state.requests.push({ method: req.method ?? '', account: url.searchParams.get('account') ?? undefined, user, scopes, ...(form ? { form } : {}) });
      if (injected !== undefined) {
        res.writeHead(injected.status, { 'Content-Type': 'application/json' });
        return res.end(injected.body);
      }
      if (req.method === 'POST' && user === undefined) return send(401, { details: 'invalid refresh token' });
      const token = sign(user, scopes);
      const answer: Record<string, unknown> = { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() };
      if (opts.refreshTokens && user !== undefined && url.searchParams.get('offline_token') === 'true') {
        const r = randomBytes(16).toString('hex');
        refresh.set(r, user);
        answer.refresh_token = r;
      }
      send(200, answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.realm = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  state.stop = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
