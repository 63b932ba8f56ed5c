import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { RegistryError } from './errors';

/**
 * A registry's TLS files from a certs.d folder, read as dockerd reads /etc/docker/certs.d
 * (registry.ReadCertsDirectory): in `<dir>/<host:port>/`, every `*.crt` is a CA certificate
 * added to the system's, and every `*.cert` is a client certificate whose key is the `*.key`
 * of the same name (either one alone is an error naming the missing file).
 */
export interface RegistryTlsFiles {
  /** Extra CA certificates (PEM), trusted beside the system's. */
  ca: Buffer[];
  /** Client certificates with their keys. */
  clients: Array<{ cert: Buffer; key: Buffer }>;
  /** Identifies the content, for caching agents. */
  fingerprint: string;
}

/** The TLS files for `host` (`host[:port]`), or undefined when its folder is absent or empty. */
export async function readCertsDir(certsDir: string, host: string, registry: string): Promise<RegistryTlsFiles | undefined> {
  // A host with a path separator or `..` names no folder of ours.
  if (host === '' || host.includes('/') || host.includes('\\') || host === '.' || host === '..') return undefined;
  const dir = path.join(certsDir, host);
  let names: string[];
  try {
    names = (await fs.readdir(dir)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
  const hash = createHash('sha256');
  const files: RegistryTlsFiles = { ca: [], clients: [], fingerprint: '' };
  const read = async (name: string) => {
    const data = await fs.readFile(path.join(dir, name));
    hash.update(name).update('\0').update(data).update('\0');
    return data;
  };
  for (const name of names) {
    if (name.endsWith('.crt')) files.ca.push(await read(name));
    else if (name.endsWith('.cert')) {
      const keyName = `${name.slice(0, -'.cert'.length)}.key`;
      if (!names.includes(keyName)) {
        throw new RegistryError('Internal', `missing key ${keyName} for client certificate ${name}. CA certificates must use the extension .crt`, { registry });
      }
      files.clients.push({ cert: await read(name), key: await read(keyName) });
    } else if (name.endsWith('.key')) {
      const certName = `${name.slice(0, -'.key'.length)}.cert`;
      if (!names.includes(certName)) throw new RegistryError('Internal', `missing client certificate ${certName} for key ${name}`, { registry });
    }
  }
  if (files.ca.length === 0 && files.clients.length === 0) return undefined;
  files.fingerprint = hash.digest('hex');
  return files;
}
