import type { PullAuth } from './source';

/**
 * The credentials of an `X-Registry-Auth` header: base64url (padded or not, as clients
 * send either) JSON of docker's AuthConfig. As dockerd does for a pull, a header that does
 * not decode means no credentials, never an error.
 */
export function decodeRegistryAuth(header: string | undefined): PullAuth | undefined {
  if (header === undefined || header === '') return undefined;
  try {
    const json = JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as Record<string, unknown>;
    if (typeof json !== 'object' || json === null) return undefined;
    const str = (key: string): string | undefined => (typeof json[key] === 'string' && json[key] !== '' ? (json[key] as string) : undefined);
    let username = str('username');
    let password = str('password');
    const basic = str('auth');
    if (username === undefined && basic !== undefined) {
      const decoded = Buffer.from(basic, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        username = decoded.slice(0, colon);
        password = decoded.slice(colon + 1);
      }
    }
    const auth: PullAuth = {};
    if (username !== undefined) auth.username = username;
    if (password !== undefined) auth.password = password;
    if (str('identitytoken') !== undefined) auth.identityToken = str('identitytoken');
    if (str('registrytoken') !== undefined) auth.registryToken = str('registrytoken');
    if (str('serveraddress') !== undefined) auth.serverAddress = str('serveraddress');
    return Object.keys(auth).length > 0 ? auth : undefined;
  } catch {
    return undefined;
  }
}
