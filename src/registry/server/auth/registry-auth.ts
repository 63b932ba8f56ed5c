import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError } from '../../errcodes';
import type { Logger } from '../../../util/logger';
import type { AccessRequest, AuthContext, RegistryAuth } from '../hooks';
import type { AccessRules, Principal } from './access-rules';
import type { Htpasswd } from './htpasswd';
import { formatScope, missingActions, parseScopes, REPOSITORY_ACTIONS, type AccessScope, type ResourceAccess } from './scope';
import { InvalidTokenError, type TokenService } from './token-service';

/**
 * Authentication and authorization of `berth registry serve` (the server's auth hook).
 *
 * Two modes:
 *  - `token` (Docker's token auth, what docker/skopeo/podman expect from a registry with
 *    logins): a request without a valid Bearer token is answered 401 with
 *    `WWW-Authenticate: Bearer realm="<realm>",service="<service>",scope="<what it needs>"`;
 *    the client fetches a token from the realm (`GET /token` with Basic credentials, or
 *    none for anonymous access, or `POST /token` with an OAuth2 password grant) and retries
 *    with it. The token's `access` claim is checked against what the request needs.
 *  - `basic`: the registry itself asks for Basic credentials (`WWW-Authenticate: Basic`).
 * In both modes Basic credentials on a `/v2/` request are accepted directly.
 *
 * Decisions: a request whose identity is known (a logged-in user) but lacks a right gets
 * 403 DENIED; an anonymous one gets 401 with the challenge, so the client can log in.
 * Rights come from the access rules; without an access file every logged-in user has all
 * of them. The `/v2/` base check passes for any valid login (or an anonymous token).
 */
export interface RegistryAuthOptions {
  mode: 'token' | 'basic';
  htpasswd?: Htpasswd;
  access?: AccessRules;
  /** Required in token mode. */
  tokens?: TokenService;
  /** The token endpoint's URL as clients must reach it; default `http(s)://<Host header>/token`. */
  realm?: string;
  /** Path of the token endpoint on this server (default /token). */
  tokenPath?: string;
  logger: Logger;
}

/** What `authorize` established: the user (undefined when anonymous) and, with a token, its grants. */
export interface RegistryAuthContext extends AuthContext {
  /** Set when the request carried a token: only these grants count, as the client asked for them. */
  grants?: ResourceAccess[];
}

const BASIC_REALM = 'berth-registry';

export class RegistryAuthorizer implements RegistryAuth {
  readonly tokenPath: string;
  private users: Htpasswd | undefined;
  private rules: AccessRules | undefined;

  constructor(private readonly options: RegistryAuthOptions) {
    if (options.mode === 'token' && !options.tokens) throw new Error('token auth needs a TokenService');
    this.tokenPath = options.tokenPath ?? '/token';
    this.users = options.htpasswd;
    this.rules = options.access;
  }

  /** Swaps in re-read users and rules (serve reloads them on SIGHUP); tokens already issued stay valid until they expire. */
  replaceUsersAndRules(users: Htpasswd | undefined, rules: AccessRules | undefined): void {
    this.users = users;
    this.rules = rules;
  }

  async authorize({ req, needed }: AccessRequest): Promise<RegistryAuthContext> {
    const credentials = parseAuthorization(req.headers.authorization);
    let context: RegistryAuthContext;
    if (credentials?.scheme === 'bearer' && this.options.tokens) {
      try {
        const token = await this.options.tokens.verify(credentials.token);
        context = { actor: token.subject === '' ? undefined : token.subject, grants: token.access };
      } catch (err) {
        if (!(err instanceof InvalidTokenError)) throw err;
        throw this.unauthorized(req, needed, err.message, 'invalid_token');
      }
    } else if (credentials?.scheme === 'basic') {
      const user = await this.checkPassword(credentials.user, credentials.password);
      if (user === undefined) throw this.unauthorized(req, needed, 'invalid username or password');
      context = { actor: user };
    } else {
      context = {};
      // The base check must challenge anonymous clients: that is how they learn the realm.
      if (needed.length === 0) throw this.unauthorized(req, needed);
    }
    for (const need of needed) {
      if (this.holds(context, need)) continue;
      // A token that lacks a grant its holder may have: the client asked for too little; a
      // fresh challenge with the full scope lets it fetch a better one.
      const couldGet = context.grants !== undefined && this.missingFromRights(context.actor, need).length === 0;
      if (context.actor !== undefined && !couldGet) {
        this.options.logger.info('registry access denied', { actor: context.actor, scope: formatScope(need) });
        throw new RegistryError('DENIED', undefined, { detail: accessDetail([need]) });
      }
      throw this.unauthorized(req, needed, undefined, context.grants ? 'insufficient_scope' : undefined);
    }
    return context;
  }

  /**
   * Whether the authorized request may also do `need` (a mount's source, the catalog's
   * filter): its token grants it, or the rules give it to the request's user — a token
   * only holds what its client asked for, and a catalog token asks for no repository.
   */
  async permits(context: RegistryAuthContext, need: AccessScope): Promise<boolean> {
    if (context.grants && missingActions(context.grants, need).length === 0) return true;
    return this.missingFromRights(context.actor, need).length === 0;
  }

  /** What `authorize` requires: with a token, its grants alone (a token scoped to pull stays a pull token). */
  private holds(context: RegistryAuthContext, need: AccessScope): boolean {
    if (context.grants) return missingActions(context.grants, need).length === 0;
    return this.missingFromRights(context.actor, need).length === 0;
  }

  /** The route for the token endpoint (`GET`/`POST <tokenPath>`); false for any other path. */
  readonly tokenRoute = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://registry.invalid');
    if (url.pathname !== this.tokenPath || !this.options.tokens) return false;
    try {
      await this.answerTokenRequest(req, res, url);
    } catch (err) {
      if (!(err instanceof TokenRequestError)) throw err;
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (err.status === 401) headers['WWW-Authenticate'] = `Basic realm="${BASIC_REALM}"`;
      res.writeHead(err.status, headers).end(JSON.stringify(err.body));
    }
    return true;
  };

  private async answerTokenRequest(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const tokens = this.options.tokens!;
    let params: URLSearchParams;
    let user: string | undefined;
    let password: string | undefined;
    let refreshToken: string | undefined;
    let offline: boolean;
    if (req.method === 'GET' || req.method === 'HEAD') {
      params = url.searchParams;
      const credentials = parseAuthorization(req.headers.authorization);
      if (credentials?.scheme === 'basic') ({ user, password } = credentials);
      const account = params.get('account');
      if (account && user !== undefined && account !== user) throw TokenRequestError.oauth(400, 'invalid_request', `account "${account}" does not match the credentials' user "${user}"`);
      offline = params.get('offline_token') === 'true';
    } else if (req.method === 'POST') {
      // OAuth2 (docker's token spec): a password grant, or a refresh grant with the identity token.
      params = new URLSearchParams(await readSmallBody(req));
      const grant = params.get('grant_type');
      if (grant === 'password') {
        user = params.get('username') ?? '';
        password = params.get('password') ?? '';
      } else if (grant === 'refresh_token') {
        refreshToken = params.get('refresh_token') ?? '';
      } else {
        throw TokenRequestError.oauth(400, 'unsupported_grant_type', `grant_type "${grant ?? ''}" is not supported; use "password" or "refresh_token"`);
      }
      offline = params.get('access_type') === 'offline';
    } else {
      throw TokenRequestError.oauth(405, 'invalid_request', `method ${req.method} is not allowed on the token endpoint`);
    }
    const service = params.get('service');
    if (service && service !== tokens.options.service) {
      throw TokenRequestError.oauth(400, 'invalid_request', `unknown service "${service}" (this registry is "${tokens.options.service}")`);
    }
    let actor: Principal;
    if (user !== undefined) {
      actor = await this.checkPassword(user, password ?? '');
      if (actor === undefined) {
        this.options.logger.info('registry login failed', { user, addr: req.socket.remoteAddress });
        throw new TokenRequestError(401, new RegistryError('UNAUTHORIZED', 'invalid username or password').body());
      }
    } else if (refreshToken !== undefined) {
      actor = await this.checkRefreshToken(refreshToken);
      if (actor === undefined) {
        this.options.logger.info('registry refresh token refused', { addr: req.socket.remoteAddress });
        throw new TokenRequestError(401, new RegistryError('UNAUTHORIZED', 'the refresh token is not valid: log in again').body());
      }
    }
    const requested = params.getAll('scope').flatMap(parseScopes);
    const granted = requested.map((scope) => this.grant(actor, scope)).filter((g): g is ResourceAccess => g !== undefined);
    const issued = await tokens.issue(actor ?? '', granted);
    this.options.logger.debug('registry token issued', { actor: actor ?? '(anonymous)', access: granted.map(formatScope) });
    const answer: Record<string, unknown> = {
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt.toISOString(),
    };
    // Offline access for a password login: a refresh token the client keeps instead of the password.
    const fingerprint = actor !== undefined && user !== undefined ? this.users?.fingerprint(actor) : undefined;
    if (offline && fingerprint !== undefined) answer.refresh_token = await tokens.issueRefresh(actor!, fingerprint);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(answer));
  }

  /** The user of a valid refresh token whose user still exists with the same password. */
  private async checkRefreshToken(token: string): Promise<string | undefined> {
    let verified;
    try {
      verified = await this.options.tokens!.verifyRefresh(token);
    } catch (err) {
      if (err instanceof InvalidTokenError) return undefined;
      throw err;
    }
    const current = this.users?.fingerprint(verified.subject);
    return current !== undefined && current === verified.passwordFingerprint ? verified.subject : undefined;
  }

  /** The part of a requested scope `actor` may have, or undefined when none of it. */
  private grant(actor: Principal, scope: ResourceAccess): ResourceAccess | undefined {
    if (scope.type === 'registry' && scope.name === 'catalog') {
      return actor !== undefined || !this.users ? { type: 'registry', name: 'catalog', actions: ['*'] } : undefined;
    }
    if (scope.type !== 'repository') return undefined;
    const asked = scope.actions.includes('*') ? [...REPOSITORY_ACTIONS] : scope.actions.filter((a) => (REPOSITORY_ACTIONS as readonly string[]).includes(a));
    const rights = new Set(this.rights(actor, scope.name));
    const actions = asked.filter((a) => rights.has(a as (typeof REPOSITORY_ACTIONS)[number]));
    return actions.length > 0 ? { type: 'repository', name: scope.name, actions } : undefined;
  }

  private rights(actor: Principal, repository: string): string[] {
    if (this.rules) return this.rules.allowedActions(actor, repository);
    // No access rules: logged-in users may do everything; anonymous users only where nobody logs in.
    return actor !== undefined || !this.users ? [...REPOSITORY_ACTIONS] : [];
  }

  private missingFromRights(actor: Principal, need: AccessScope): string[] {
    if (need.type === 'registry') return actor !== undefined || !this.users ? [] : ['*'];
    const rights = new Set(this.rights(actor, need.name));
    return need.actions.filter((a) => !rights.has(a));
  }

  private async checkPassword(user: string, password: string): Promise<string | undefined> {
    if (!this.users) return undefined;
    return (await this.users.verify(user, password)) ? user : undefined;
  }

  private unauthorized(req: IncomingMessage, needed: AccessScope[], message?: string, error?: 'invalid_token' | 'insufficient_scope'): RegistryError {
    let challenge: string;
    if (this.options.mode === 'token') {
      const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
      const realm = this.options.realm ?? `${scheme}://${req.headers.host ?? 'localhost'}${this.tokenPath}`;
      const parts = [`realm=${quote(realm)}`, `service=${quote(this.options.tokens!.options.service)}`];
      if (needed.length > 0) parts.push(`scope=${quote(needed.map(formatScope).join(' '))}`);
      if (error) parts.push(`error=${quote(error)}`);
      challenge = `Bearer ${parts.join(',')}`;
    } else {
      challenge = `Basic realm=${quote(BASIC_REALM)}`;
    }
    return new RegistryError('UNAUTHORIZED', message, {
      detail: needed.length > 0 ? accessDetail(needed) : undefined,
      headers: { 'WWW-Authenticate': challenge },
    });
  }
}

/** distribution's detail on UNAUTHORIZED/DENIED: the resources the request needed. */
function accessDetail(needed: AccessScope[]): unknown {
  return needed.flatMap((n) => n.actions.map((action) => ({ Type: n.type, Class: '', Name: n.name, Action: action })));
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

type Credentials = { scheme: 'basic'; user: string; password: string } | { scheme: 'bearer'; token: string };

function parseAuthorization(header: string | undefined): Credentials | undefined {
  if (!header) return undefined;
  const space = header.indexOf(' ');
  if (space < 0) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer') return { scheme, token: value };
  if (scheme !== 'basic') return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { scheme, user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** A token-endpoint failure: OAuth2's `{error, error_description}` or a registry error body. */
class TokenRequestError extends Error {
  constructor(readonly status: number, readonly body: unknown) {
    super(`token request failed with ${status}`);
  }

  static oauth(status: number, error: string, description: string): TokenRequestError {
    return new TokenRequestError(status, { error, error_description: description });
  }
}

const MAX_TOKEN_FORM_BYTES = 64 * 1024;

async function readSmallBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_TOKEN_FORM_BYTES) throw TokenRequestError.oauth(413, 'invalid_request', `the token request body exceeds ${MAX_TOKEN_FORM_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
