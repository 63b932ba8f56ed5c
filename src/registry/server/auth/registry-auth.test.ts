import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryError } from '../../errcodes';
import { silentLogger } from '../../../util/logger';
import { AccessRules } from './access-rules';
import { Htpasswd, htpasswdLine } from './htpasswd';
import { RegistryAuthorizer, type RegistryAuthOptions } from './registry-auth';
import type { AccessScope } from './scope';
import { TokenService } from './token-service';

/**
 * A real HTTP server that puts the authorizer in front of stand-in registry routes (the
 * registry's own routes are tested with the server; here only the auth decisions are):
 * GET/HEAD /v2/<name>/manifests/<ref> need pull, PUT push, DELETE delete.
 */
async function startServer(options: Omit<RegistryAuthOptions, 'logger'>) {
  const auth = new RegistryAuthorizer({ ...options, logger: silentLogger });
  const server = http.createServer((req, res) => {
    void (async () => {
      if (await auth.tokenRoute(req, res)) return;
      const url = new URL(req.url ?? '/', 'http://x');
      let needed: AccessScope[] = [];
      const m = /^\/v2\/(.+)\/manifests\/[^/]+$/.exec(url.pathname);
      if (m) needed = [{ type: 'repository', name: m[1], actions: [req.method === 'PUT' ? 'push' : req.method === 'DELETE' ? 'delete' : 'pull'] }];
      else if (url.pathname === '/v2/_catalog') needed = [{ type: 'registry', name: 'catalog', actions: ['*'] }];
      try {
        const ctx = await auth.authorize({ req, needed });
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ actor: ctx.actor ?? null }));
      } catch (err) {
        if (!(err instanceof RegistryError)) throw err;
        res.writeHead(err.status, { 'Content-Type': 'application/json', ...err.headers }).end(JSON.stringify(err.body()));
      }
    })().catch((err) => res.writeHead(500).end(String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, auth, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

let users: Htpasswd;
let rules: AccessRules;
before(async () => {
  users = Htpasswd.parse([await htpasswdLine('alice', 'alice-pw', 4), await htpasswdLine('bob', 'bob-pw', 4)].join('\n'));
  rules = AccessRules.parse(`
rules:
  - repository: "team-a/*"
    pull: [alice, bob]
    push: [alice]
    delete: [alice]
  - repository: "public/*"
    pull: ["*"]
    anonymousPull: true
`);
});

/** Parses `Bearer realm="...",service="...",scope="..."`. */
function challenge(header: string | null): Record<string, string> {
  assert.ok(header, 'a WWW-Authenticate header');
  const [scheme, rest] = [header.slice(0, header.indexOf(' ')), header.slice(header.indexOf(' ') + 1)];
  const params: Record<string, string> = { scheme };
  for (const m of rest.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) params[m[1]] = m[2];
  return params;
}

async function fetchToken(realm: string, params: Record<string, string>, authorization?: string) {
  const url = new URL(realm);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return fetch(url, { headers: authorization ? { Authorization: authorization } : {} });
}

test('token auth: the docker login dance, grants cut to the rules, 403 DENIED for a known user, 401 for anonymous', async () => {
  const tokens = await TokenService.create({ service: 'berth-test', issuer: 'berth-test-issuer', expiresIn: 60 });
  const srv = await startServer({ mode: 'token', htpasswd: users, access: rules, tokens });
  try {
    // The base check challenges with the realm on this server.
    const ping = await fetch(`${srv.base}/v2/`);
    assert.equal(ping.status, 401);
    const c = challenge(ping.headers.get('www-authenticate'));
    assert.deepEqual(c, { scheme: 'Bearer', realm: `${srv.base}/token`, service: 'berth-test' });
    assert.equal(((await ping.json()) as { errors: Array<{ code: string }> }).errors[0].code, 'UNAUTHORIZED');

    // Login: wrong password → 401, right one → a token the base check accepts.
    const wrong = await fetchToken(c.realm, { service: c.service, account: 'alice' }, basic('alice', 'nope'));
    assert.equal(wrong.status, 401);
    assert.deepEqual(await wrong.json(), { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] });
    const unknown = await fetchToken(c.realm, { service: c.service }, basic('mallory', 'alice-pw'));
    assert.equal(unknown.status, 401);
    const login = await fetchToken(c.realm, { service: c.service, account: 'alice' }, basic('alice', 'alice-pw'));
    assert.equal(login.status, 200);
    const body = (await login.json()) as { token: string; access_token: string; expires_in: number; issued_at: string };
    assert.equal(body.token, body.access_token);
    assert.equal(body.expires_in, 60);
    assert.ok(Math.abs(Date.parse(body.issued_at) - Date.now()) < 60_000);
    const ok = await fetch(`${srv.base}/v2/`, { headers: { Authorization: `Bearer ${body.token}` } });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { actor: 'alice' });

    // A push needs a token with push: the challenge names the scope; bob gets pull only.
    const push = await fetch(`${srv.base}/v2/team-a/app/manifests/v1`, { method: 'PUT' });
    assert.equal(push.status, 401);
    const pc = challenge(push.headers.get('www-authenticate'));
    assert.equal(pc.scope, 'repository:team-a/app:push');
    const bobToken = (await (await fetchToken(pc.realm, { service: pc.service, scope: 'repository:team-a/app:pull,push' }, basic('bob', 'bob-pw'))).json()) as { token: string };
    const [, payload] = bobToken.token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    assert.deepEqual(claims.access, [{ type: 'repository', name: 'team-a/app', actions: ['pull'] }]);
    assert.equal(claims.sub, 'bob');
    assert.equal(claims.aud, 'berth-test');
    assert.equal(claims.iss, 'berth-test-issuer');
    const denied = await fetch(`${srv.base}/v2/team-a/app/manifests/v1`, { method: 'PUT', headers: { Authorization: `Bearer ${bobToken.token}` } });
    assert.equal(denied.status, 403);
    assert.deepEqual(await denied.json(), {
      errors: [{ code: 'DENIED', message: 'requested access to the resource is denied', detail: [{ Type: 'repository', Class: '', Name: 'team-a/app', Action: 'push' }] }],
    });
    const bobPull = await fetch(`${srv.base}/v2/team-a/app/manifests/v1`, { headers: { Authorization: `Bearer ${bobToken.token}` } });
    assert.equal(bobPull.status, 200);

    // alice asked only for pull: her token lacks push she could have → 401 insufficient_scope, not 403.
    const alicePull = (await (await fetchToken(c.realm, { scope: 'repository:team-a/app:pull' }, basic('alice', 'alice-pw'))).json()) as { token: string };
    const narrow = await fetch(`${srv.base}/v2/team-a/app/manifests/v1`, { method: 'PUT', headers: { Authorization: `Bearer ${alicePull.token}` } });
    assert.equal(narrow.status, 401);
    assert.equal(challenge(narrow.headers.get('www-authenticate')).error, 'insufficient_scope');
    const aliceAll = (await (await fetchToken(c.realm, { scope: 'repository:team-a/app:*' }, basic('alice', 'alice-pw'))).json()) as { token: string };
    for (const method of ['PUT', 'DELETE', 'GET']) {
      const r = await fetch(`${srv.base}/v2/team-a/app/manifests/v1`, { method, headers: { Authorization: `Bearer ${aliceAll.token}` } });
      assert.equal(r.status, 200, method);
    }

    // Anonymous: a token without credentials carries only anonymous pulls.
    const anon = await fetchToken(c.realm, { service: c.service, scope: 'repository:public/x:pull,push repository:team-a/app:pull' });
    assert.equal(anon.status, 200);
    const anonToken = ((await anon.json()) as { token: string }).token;
    assert.deepEqual(JSON.parse(Buffer.from(anonToken.split('.')[1], 'base64url').toString()).access, [{ type: 'repository', name: 'public/x', actions: ['pull'] }]);
    assert.equal((await fetch(`${srv.base}/v2/public/x/manifests/latest`, { headers: { Authorization: `Bearer ${anonToken}` } })).status, 200);
    const anonTeam = await fetch(`${srv.base}/v2/team-a/app/manifests/latest`, { headers: { Authorization: `Bearer ${anonToken}` } });
    assert.equal(anonTeam.status, 401, 'anonymous gets a challenge so it can log in');
    assert.equal((await fetch(`${srv.base}/v2/public/x/manifests/latest`)).status, 200, 'anonymous pull without any token');
    assert.equal((await fetch(`${srv.base}/v2/public/x/manifests/latest`, { method: 'PUT' })).status, 401);
    // The catalog is for logged-in users.
    assert.equal((await fetch(`${srv.base}/v2/_catalog`, { headers: { Authorization: basic('bob', 'bob-pw') } })).status, 200);
    assert.equal((await fetch(`${srv.base}/v2/_catalog`, { headers: { Authorization: `Bearer ${anonToken}` } })).status, 401);

    // OAuth2 password grant (POST), as some clients log in.
    const post = await fetch(c.realm, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: 'alice', password: 'alice-pw', service: 'berth-test', scope: 'repository:team-a/app:push', client_id: 'test' }),
    });
    assert.equal(post.status, 200);
    const other = await fetch(c.realm, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials' }) });
    assert.equal(other.status, 400);
    assert.equal(((await other.json()) as { error: string }).error, 'unsupported_grant_type');
    const junk = await fetch(c.realm, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x' }) });
    assert.equal(junk.status, 401);
    // Another service's name, or a user that does not match the credentials.
    assert.equal((await fetchToken(c.realm, { service: 'other' }, basic('alice', 'alice-pw'))).status, 400);
    assert.equal((await fetchToken(c.realm, { account: 'bob' }, basic('alice', 'alice-pw'))).status, 400);
  } finally {
    await srv.close();
  }
});

test('token auth: forged, foreign and expired tokens are refused with invalid_token', async () => {
  const tokens = await TokenService.create({ service: 'berth-test', issuer: 'berth-test', expiresIn: 60 });
  const otherKey = await TokenService.create({ service: 'berth-test', issuer: 'berth-test', expiresIn: 60 });
  const srv = await startServer({ mode: 'token', htpasswd: users, access: rules, tokens });
  try {
    const grant = [{ type: 'repository', name: 'team-a/app', actions: ['pull', 'push', 'delete'] }];
    const foreign = await otherKey.issue('alice', grant);
    const expired = await tokens.issue('alice', grant, new Date(Date.now() - 3600_000));
    const good = await tokens.issue('alice', grant);
    const [h, , s] = good.token.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ sub: 'mallory', access: grant, aud: 'berth-test', iss: 'berth-test', exp: 9e9 })).toString('base64url')}.${s}`;
    for (const [name, token, why] of [['foreign', foreign.token, /signature/], ['expired', expired.token, /expired/], ['tampered', tampered, /signature/], ['garbage', 'abc', /not valid/]] as const) {
      const r = await fetch(`${srv.base}/v2/team-a/app/manifests/v1`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(r.status, 401, name);
      assert.equal(challenge(r.headers.get('www-authenticate')).error, 'invalid_token', name);
      assert.match(((await r.json()) as { errors: Array<{ message: string }> }).errors[0].message, why, name);
    }
    assert.equal((await fetch(`${srv.base}/v2/team-a/app/manifests/v1`, { headers: { Authorization: `Bearer ${good.token}` } })).status, 200);
  } finally {
    await srv.close();
  }
});

test('basic mode: the registry asks for Basic credentials itself; no access file lets every user do everything', async () => {
  const srv = await startServer({ mode: 'basic', htpasswd: users });
  try {
    const ping = await fetch(`${srv.base}/v2/`);
    assert.equal(ping.status, 401);
    assert.equal(ping.headers.get('www-authenticate'), 'Basic realm="berth-registry"');
    assert.equal((await fetch(`${srv.base}/v2/`, { headers: { Authorization: basic('bob', 'bob-pw') } })).status, 200);
    assert.equal((await fetch(`${srv.base}/v2/`, { headers: { Authorization: basic('bob', 'alice-pw') } })).status, 401);
    const del = await fetch(`${srv.base}/v2/any/thing/manifests/v1`, { method: 'DELETE', headers: { Authorization: basic('bob', 'bob-pw') } });
    assert.equal(del.status, 200);
    assert.equal((await fetch(`${srv.base}/v2/any/thing/manifests/v1`)).status, 401);
    assert.equal(await srv.auth.permits({ actor: 'bob' }, { type: 'repository', name: 'x', actions: ['push'] }), true);
    assert.equal(await srv.auth.permits({}, { type: 'repository', name: 'x', actions: ['pull'] }), false);
  } finally {
    await srv.close();
  }
});

test('an access file without users: anonymous pull where allowed, nothing else', async () => {
  const tokens = await TokenService.create({ service: 's', issuer: 's', expiresIn: 60 });
  const srv = await startServer({ mode: 'token', access: rules, tokens, realm: 'http://registry.example:5000/token' });
  try {
    const r = await fetch(`${srv.base}/v2/team-a/app/manifests/v1`);
    assert.equal(r.status, 401);
    assert.equal(challenge(r.headers.get('www-authenticate')).realm, 'http://registry.example:5000/token', 'a configured realm wins');
    assert.equal((await fetch(`${srv.base}/v2/public/app/manifests/v1`)).status, 200);
    assert.equal((await fetchToken(`${srv.base}/token`, {}, basic('alice', 'alice-pw'))).status, 401);
  } finally {
    await srv.close();
  }
});

test('token auth: offline logins get a refresh token (docker\'s identity token) that ends with the password', async () => {
  const tokens = await TokenService.create({ service: 'berth-test', issuer: 'berth-test', expiresIn: 60 });
  const aliceLine = await htpasswdLine('alice', 'alice-pw', 4);
  const bobLine = await htpasswdLine('bob', 'bob-pw', 4);
  const srv = await startServer({ mode: 'token', htpasswd: Htpasswd.parse(`${aliceLine}\n${bobLine}`), access: rules, tokens });
  try {
    const realm = `${srv.base}/token`;
    const plain = (await (await fetchToken(realm, {}, basic('alice', 'alice-pw'))).json()) as Record<string, unknown>;
    assert.equal(plain.refresh_token, undefined, 'only when offline access is asked for');
    const login = (await (await fetchToken(realm, { offline_token: 'true', client_id: 'docker', service: 'berth-test' }, basic('alice', 'alice-pw'))).json()) as { refresh_token: string };
    assert.ok(login.refresh_token);
    const anonymous = (await (await fetchToken(realm, { offline_token: 'true' })).json()) as Record<string, unknown>;
    assert.equal(anonymous.refresh_token, undefined, 'nobody to refresh for');
    const refresh = (token: string, scope: string) => fetch(realm, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, service: 'berth-test', client_id: 'docker', scope }),
    });
    const fresh = await refresh(login.refresh_token, 'repository:team-a/app:pull,push');
    assert.equal(fresh.status, 200);
    const body = (await fresh.json()) as { access_token: string; refresh_token?: string };
    assert.equal(body.refresh_token, undefined);
    assert.deepEqual(JSON.parse(Buffer.from(body.access_token.split('.')[1]!, 'base64url').toString()).access, [{ type: 'repository', name: 'team-a/app', actions: ['pull', 'push'] }]);
    assert.equal((await fetch(`${srv.base}/v2/team-a/app/manifests/v1`, { method: 'PUT', headers: { Authorization: `Bearer ${body.access_token}` } })).status, 200);
    // Neither kind passes for the other.
    const asBearer = await fetch(`${srv.base}/v2/team-a/app/manifests/v1`, { headers: { Authorization: `Bearer ${login.refresh_token}` } });
    assert.equal(asBearer.status, 401);
    assert.equal((await refresh(body.access_token, '')).status, 401);
    // OAuth2 password grant with access_type=offline also gets one.
    const post = await fetch(realm, { method: 'POST', body: new URLSearchParams({ grant_type: 'password', username: 'bob', password: 'bob-pw', access_type: 'offline', client_id: 'x' }) });
    const bobRefresh = ((await post.json()) as { refresh_token: string }).refresh_token;
    assert.equal((await refresh(bobRefresh, '')).status, 200);
    // A new password (or a removed user) ends the refresh tokens issued before.
    // (the file re-read with bob's line unchanged keeps his)
    srv.auth.replaceUsersAndRules(Htpasswd.parse([await htpasswdLine('alice', 'new-pw', 4), bobLine].join('\n')), rules);
    const ended = await refresh(login.refresh_token, '');
    assert.equal(ended.status, 401);
    assert.match(JSON.stringify(await ended.json()), /the refresh token is not valid: log in again/);
    assert.equal((await refresh(bobRefresh, '')).status, 200);
    srv.auth.replaceUsersAndRules(Htpasswd.parse(await htpasswdLine('alice', 'new-pw', 4)), rules);
    assert.equal((await refresh(bobRefresh, '')).status, 401);
  } finally {
    await srv.close();
  }
});
