import { promises as fs } from 'node:fs';
import { randomUUID, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify, calculateJwkThumbprint, exportJWK, errors as joseErrors, type JWTPayload } from 'jose';
import { invalidArgument } from '../../../errors';
import type { ResourceAccess } from './scope';

/**
 * Issues and checks the JWTs of Docker's token auth (distribution's docs/spec/auth/jwt):
 * claims `iss`, `sub` (the user, "" when anonymous), `aud` (the service), `exp`, `nbf`, `iat`,
 * `jti` and `access` (the granted resources). The registry and its token endpoint run in one
 * process, so the same key signs and verifies: an ES256 key given as a PEM file (serve keeps
 * one in its storage root unless told otherwise, so refresh tokens outlive a restart), or made
 * at start (tokens then die with the process).
 */
export interface TokenServiceOptions {
  /** The `service` clients name in their token request and the tokens' audience. */
  service: string;
  issuer: string;
  /** Token lifetime in seconds (distribution's default: 300). */
  expiresIn: number;
  /** PEM file of an EC P-256 private key; without it a key is generated. */
  keyFile?: string;
  /** With keyFile: make the key and write it there (mode 0600) when the file does not exist. */
  createKey?: boolean;
}

export interface VerifiedToken {
  subject: string;
  access: ResourceAccess[];
}

/** A refresh token (docker's identity token): who, and the fingerprint of their password when issued. */
export interface VerifiedRefreshToken {
  subject: string;
  passwordFingerprint: string;
}

/** Refresh tokens live this long (seconds); a password change or removing the user ends them sooner. */
export const REFRESH_TOKEN_SECONDS = 30 * 24 * 3600;
/** The claim that marks a refresh token, so neither kind passes for the other. */
const REFRESH_USE = 'refresh';

export interface IssuedToken {
  token: string;
  expiresIn: number;
  issuedAt: Date;
}

/** Clock skew tolerated on `nbf`/`exp`, in seconds. */
const LEEWAY_SECONDS = 30;

export class TokenService {
  private constructor(
    readonly options: TokenServiceOptions,
    private readonly privateKey: KeyObject,
    private readonly publicKey: KeyObject,
    private readonly keyId: string,
  ) {}

  static async create(options: TokenServiceOptions): Promise<TokenService> {
    if (!Number.isInteger(options.expiresIn) || options.expiresIn <= 0) {
      throw invalidArgument(`token expiry must be a positive number of seconds, not ${options.expiresIn}`);
    }
    let privateKey: KeyObject;
    if (options.keyFile && options.createKey) await createKeyFileIfMissing(options.keyFile);
    if (options.keyFile) {
      try {
        privateKey = createPrivateKey(await fs.readFile(options.keyFile));
      } catch (err) {
        throw invalidArgument(`cannot read the token signing key ${options.keyFile}: ${(err as Error).message}`, err);
      }
      if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw invalidArgument(`token signing key ${options.keyFile}: expected an EC P-256 private key (openssl ecparam -name prime256v1 -genkey)`);
      }
    } else {
      privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    }
    const publicKey = createPublicKey(privateKey);
    const keyId = await calculateJwkThumbprint(await exportJWK(publicKey));
    return new TokenService(options, privateKey, publicKey, keyId);
  }

  async issue(subject: string, access: ResourceAccess[], now = new Date()): Promise<IssuedToken> {
    const iat = Math.floor(now.getTime() / 1000);
    const token = await this.sign({ access }, subject, iat, this.options.expiresIn);
    return { token, expiresIn: this.options.expiresIn, issuedAt: new Date(iat * 1000) };
  }

  /** A refresh token for `subject` (OAuth2's offline access; docker keeps it as the identity token). */
  async issueRefresh(subject: string, passwordFingerprint: string, now = new Date()): Promise<string> {
    const iat = Math.floor(now.getTime() / 1000);
    return this.sign({ use: REFRESH_USE, pwf: passwordFingerprint }, subject, iat, REFRESH_TOKEN_SECONDS);
  }

  /** A JWT of this service: its key and issuer, for `subject`, valid from `iat` for `lifetime` seconds. */
  private sign(claims: Record<string, unknown>, subject: string, iat: number, lifetime: number): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: this.keyId })
      .setIssuer(this.options.issuer)
      .setSubject(subject)
      .setAudience(this.options.service)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + lifetime)
      .setJti(randomUUID())
      .sign(this.privateKey);
  }

  /** Checks signature, issuer, audience and lifetime; throws InvalidTokenError naming what failed. */
  async verify(token: string): Promise<VerifiedToken> {
    const payload = await this.check(token);
    if (payload.use === REFRESH_USE) throw new InvalidTokenError('a refresh token is not an access token');
    return { subject: String(payload.sub ?? ''), access: readAccess(payload.access) };
  }

  async verifyRefresh(token: string): Promise<VerifiedRefreshToken> {
    const payload = await this.check(token);
    if (payload.use !== REFRESH_USE || typeof payload.pwf !== 'string' || !payload.sub) throw new InvalidTokenError('not a refresh token');
    return { subject: payload.sub, passwordFingerprint: payload.pwf };
  }

  private async check(token: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, {
        algorithms: ['ES256'],
        issuer: this.options.issuer,
        audience: this.options.service,
        clockTolerance: LEEWAY_SECONDS,
        requiredClaims: ['exp', 'sub'],
      });
      return payload;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new InvalidTokenError('the token has expired');
      if (err instanceof joseErrors.JOSEError) throw new InvalidTokenError(`the token is not valid: ${err.message}`);
      throw err;
    }
  }
}

export class InvalidTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTokenError';
  }
}

function readAccess(value: unknown): ResourceAccess[] {
  if (value === undefined) return [];
  const ok = Array.isArray(value) && value.every((a) =>
    typeof a === 'object' && a !== null && typeof a.type === 'string' && typeof a.name === 'string' &&
    Array.isArray(a.actions) && a.actions.every((x: unknown) => typeof x === 'string'));
  if (!ok) throw new InvalidTokenError('the token has a malformed "access" claim');
  return value as ResourceAccess[];
}

/** Writes a new P-256 key to `file` unless it exists (exclusive create: two starts agree on one key). */
async function createKeyFileIfMissing(file: string): Promise<void> {
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  try {
    await fs.writeFile(file, pem, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw invalidArgument(`cannot write the token signing key ${file}: ${(err as Error).message}`, err);
  }
}
