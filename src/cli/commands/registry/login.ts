import { ClientError } from '../../../client/errors';
import { defineCommand, StatusError } from '../../command';
import type { CliContext } from '../../context';
import { loadCredentials, serverKey, storeCredentials } from '../../docker-config';
import type { AuthConfig } from '../../../registry/client/types';
import { promptLine, readAllStdin } from './prompt';

interface AuthResponse {
  Status: string;
  IdentityToken?: string;
}

async function loginOnDaemon(ctx: CliContext, auth: AuthConfig, server: string): Promise<AuthResponse> {
  const client = await ctx.client();
  return client.json<AuthResponse>('POST', '/auth', {
    body: { username: auth.username ?? '', password: auth.password ?? '', serveraddress: server, ...(auth.identityToken ? { identitytoken: auth.identityToken } : {}) },
  });
}

/** docker login: checks credentials through the daemon (POST /auth) and stores them in config.json. */
export default defineCommand({
  usage: 'login [OPTIONS] [SERVER]',
  description: 'Log in to a registry.\nIf no server is specified, the default is defined by the daemon.',
  minArgs: 0,
  maxArgs: 1,
  flags: {
    username: { kind: 'string', short: 'u', description: 'Username' },
    password: { kind: 'string', short: 'p', description: 'Password or Personal Access Token (PAT)' },
    'password-stdin': { kind: 'bool', description: 'Take the Password or Personal Access Token (PAT) from stdin' },
  },
  async run(ctx, flags, args) {
    const key = serverKey(args[0]);
    let username = flags.username?.trim();
    let password = flags.password;
    if (password !== undefined) ctx.err('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    if (flags['password-stdin']) {
      if (password !== undefined) throw new StatusError(1, '--password and --password-stdin are mutually exclusive');
      if (username === undefined || username === '') throw new StatusError(1, 'Must provide --username with --password-stdin');
      password = (await readAllStdin(ctx)).trim();
    }
    // With nothing given, docker first tries what is stored.
    if (username === undefined && password === undefined) {
      const stored = await loadCredentials(key).catch(() => undefined);
      if (stored !== undefined && (stored.password !== undefined || stored.identityToken !== undefined)) {
        ctx.out('Authenticating with existing credentials...\n');
        try {
          const res = await loginOnDaemon(ctx, stored, key);
          if (res.IdentityToken) stored.identityToken = res.IdentityToken;
          await storeCredentials(key, stored);
          ctx.out(`${res.Status}\n`);
          return 0;
        } catch (err) {
          if (!(err instanceof ClientError)) throw err;
          ctx.err(`Login did not succeed, error: ${err.message}\n`);
        }
      }
    }
    if (username === undefined || username === '' || password === undefined) {
      if (!ctx.stdin.isTTY) throw new StatusError(1, 'Error: Cannot perform an interactive login from a non TTY device');
      if (username === undefined || username === '') username = (await promptLine(ctx, 'Username: ', false)).trim();
      if (username === '') throw new StatusError(1, 'Error: Non-null Username Required');
      if (password === undefined) password = await promptLine(ctx, 'Password: ', true);
      if (password === '') throw new StatusError(1, 'Error: Password Required');
    }
    const auth: AuthConfig = { username, password };
    const res = await loginOnDaemon(ctx, auth, key);
    const stored: AuthConfig = res.IdentityToken ? { username, identityToken: res.IdentityToken } : auth;
    const where = await storeCredentials(key, stored);
    if (!where.startsWith('docker-credential-') && !res.IdentityToken) {
      ctx.err(`WARNING! Your password will be stored unencrypted in ${where}.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n`);
    }
    ctx.out(`${res.Status}\n`);
    return 0;
  },
});
