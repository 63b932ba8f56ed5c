import { promises as fs } from 'node:fs';
import { randomUUID, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify, calculateJwkThumbprint, exportJWK, errors as joseErrors } from 'jose';
import { invalidArgument } from '../../../errors';
import type { ResourceAccess } from './scope';

/**
 * Issues and checks the JWTs of Docker's token auth (distribution's docs/spec/auth/jwt):
 * claims `iss`, `sub` (the user, "" when anonymous), `aud` (the service), `exp`, `nbf`, `iat`,
 * `jti` and `access` (the granted resources). The registry and its token endpoint run in one
 * process, so the same key signs and verifies: an ES256 key given as a PEM file, or made at
 * start (tokens then die with the process; clients simply fetch a new one).
 */
export interface TokenServiceOptions {
  /** The `service` clients name in their token request and the tokens' audience. */
  service: string;
  issuer: string;
  /** Token lifetime in seconds (distribution's default: 300). */
  expiresIn: number;
  /** PEM file of an EC P-256 private key; without it a key is generated. */
  keyFile?: string;
}

export interface VerifiedToken {
  subject: string;
  access: ResourceAccess[];
}

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
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: this.keyId })
      .setIssuer(this.options.issuer)
      .setSubject(subject)
      .setAudience(this.options.service)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + this.options.expiresIn)
      .setJti(randomUUID())
      .sign(this.privateKey);
    return { token, expiresIn: this.options.expiresIn, issuedAt: new Date(iat * 1000) };
  }

  /** Checks signature, issuer, audience and lifetime; throws InvalidTokenError naming what failed. */
  async verify(token: string): Promise<VerifiedToken> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, {
        algorithms: ['ES256'],
        issuer: this.options.issuer,
        audience: this.options.service,
        clockTolerance: LEEWAY_SECONDS,
        requiredClaims: ['exp', 'sub'],
      });
      return { subject: String(payload.sub ?? ''), access: readAccess(payload.access) };
    } catch (err) {
      if (err instanceof InvalidTokenError) throw err;
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
