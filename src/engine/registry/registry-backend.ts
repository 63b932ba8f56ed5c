import type { DistributionInspect, RegistryBackend } from '../../api/backend';
import { EngineError, invalidArgument } from '../../errors';
import { RegistryError } from '../../registry/client/errors';
import type { Platform } from '../../images/models';
import { parseNormalizedNamed, withDefaultTag } from '../../images/reference';
import { authConfigFromJson, decodeRegistryAuth } from '../../registry/client/registry-auth-header';
import type { AuthConfig, RegistryHosts } from '../../registry/client/types';

/** Docker Hub's address in logins (the CLI sends it when no server is named). */
export const DEFAULT_LOGIN_SERVER = 'https://index.docker.io/v1/';

/** POST /auth and GET /distribution/{name}/json, after moby's registry and distribution routers. */
export class RegistryBackendImpl implements RegistryBackend {
  constructor(private readonly registry: RegistryHosts) {}

  async auth(body: unknown): Promise<{ Status: string; IdentityToken: string }> {
    if (body === undefined || body === null) throw invalidArgument('missing login credentials: the request body must be an AuthConfig JSON object');
    if (typeof body !== 'object' || Array.isArray(body)) throw invalidArgument('invalid login request: the body must be a JSON object');
    const auth = authConfigFromJson(body as Record<string, unknown>);
    const server = auth.serverAddress ?? DEFAULT_LOGIN_SERVER;
    const { identityToken } = await this.registry.login(server, auth).catch(as500);
    return { Status: 'Login Succeeded', IdentityToken: identityToken };
  }

  async distributionInspect(name: string, registryAuth: string | undefined): Promise<DistributionInspect> {
    const ref = withDefaultTag(parseNormalizedNamed(name));
    // As dockerd: credentials that do not decode mean anonymous, not an error.
    let auth: AuthConfig;
    try {
      auth = decodeRegistryAuth(registryAuth);
    } catch {
      auth = {};
    }
    const session = this.registry.session(ref, { auth });
    const root = await session.fetchManifest(ref.digest ?? ref.tag!).catch(as500);
    const { mediaType, digest, size } = root.descriptor;
    let platforms: Platform[];
    if (root.index !== undefined) {
      platforms = root.index.manifests.flatMap((d) => (d.platform !== undefined ? [d.platform] : []));
    } else {
      const config = JSON.parse((await session.fetchBlob(root.manifest!.config).catch(as500)).toString('utf8')) as Record<string, unknown>;
      const text = (k: string) => (typeof config[k] === 'string' && config[k] !== '' ? (config[k] as string) : undefined);
      const features = Array.isArray(config['os.features']) ? (config['os.features'] as string[]) : undefined;
      platforms = [
        {
          architecture: text('architecture') ?? '',
          os: text('os') ?? '',
          ...(text('os.version') ? { 'os.version': text('os.version') } : {}),
          ...(features && features.length > 0 ? { 'os.features': features } : {}),
          ...(text('variant') ? { variant: text('variant') } : {}),
        },
      ];
    }
    return { Descriptor: { mediaType, digest, size }, Platforms: platforms };
  }
}

/**
 * These routes document 401 and 500 only (dockerd): a registry that is down or answers badly
 * is a 500 here, whatever kind the client gave it for the pull's retries.
 */
function as500(err: unknown): never {
  if (err instanceof RegistryError && (err.kind === 'Unavailable' || err.kind === 'InvalidArgument')) {
    throw new EngineError('Internal', err.message, { cause: err });
  }
  throw err;
}
