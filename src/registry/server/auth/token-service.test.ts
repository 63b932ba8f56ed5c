import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidTokenError, TokenService } from './token-service';

test('token service: a key made by openssl signs tokens that a restart with the same key still accepts', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-token-'));
  try {
    const key = path.join(dir, 'token-key.pem');
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
    const options = { service: 'reg', issuer: 'berth', expiresIn: 120, keyFile: key };
    const first = await TokenService.create(options);
    const issued = await first.issue('alice', [{ type: 'repository', name: 'a/b', actions: ['pull'] }]);
    assert.equal(issued.expiresIn, 120);
    const [header] = issued.token.split('.');
    const h = JSON.parse(Buffer.from(header, 'base64url').toString());
    assert.equal(h.alg, 'ES256');
    assert.match(h.kid, /^[A-Za-z0-9_-]{43}$/);
    const restarted = await TokenService.create(options);
    assert.deepEqual(await restarted.verify(issued.token), { subject: 'alice', access: [{ type: 'repository', name: 'a/b', actions: ['pull'] }] });
    // Another audience or issuer does not accept it.
    const other = await TokenService.create({ ...options, service: 'other' });
    await assert.rejects(other.verify(issued.token), (err: unknown) => err instanceof InvalidTokenError && /aud/.test(err.message));

    // serve's default: a key made once in the storage root, then reused.
    const made = path.join(dir, 'made.pem');
    const a = await TokenService.create({ ...options, keyFile: made, createKey: true });
    assert.equal((await fs.stat(made)).mode & 0o777, 0o600);
    const refresh = await a.issueRefresh('bob', 'fp');
    const b = await TokenService.create({ ...options, keyFile: made, createKey: true });
    assert.deepEqual(await b.verifyRefresh(refresh), { subject: 'bob', passwordFingerprint: 'fp' });
    await assert.rejects(b.verify(refresh), /a refresh token is not an access token/);
    await assert.rejects(b.verifyRefresh(issued.token), /signature|not a refresh token/);

    const rsa = path.join(dir, 'rsa.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', rsa], { stdio: 'ignore' });
    await assert.rejects(TokenService.create({ ...options, keyFile: rsa }), /expected an EC P-256 private key/);
    await fs.writeFile(path.join(dir, 'junk.pem'), 'not a key');
    await assert.rejects(TokenService.create({ ...options, keyFile: path.join(dir, 'junk.pem') }), /cannot read the token signing key .*junk.pem/);
    await assert.rejects(TokenService.create({ ...options, keyFile: undefined, expiresIn: 0 }), /token expiry must be a positive number of seconds, not 0/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
