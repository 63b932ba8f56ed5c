import { RegistryError } from '../errcodes';
import type { Digest } from '../../util/digest';

/**
 * Repository names, tags and digests as the distribution spec allows them. Names are checked
 * before anything touches storage: a name is lowercase path components joined by `/`, so `..`,
 * `.`, empty components and percent-encoded tricks never reach a storage key.
 */

/** distribution's path-component rule: alphanumerics joined by `.`, `_`, `__` or runs of `-`. */
const NAME_PATTERN = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
/** distribution's limit on a repository name. */
export const MAX_NAME_LENGTH = 255;
const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const ANY_DIGEST_PATTERN = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256_PATTERN = /^sha256:[a-f0-9]{64}$/;

export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name);
}

export function checkName(name: string): string {
  if (!isValidName(name)) {
    throw new RegistryError('NAME_INVALID', `invalid repository name ${JSON.stringify(name)}`, { detail: { name } });
  }
  return name;
}

export function isValidTag(tag: string): boolean {
  return TAG_PATTERN.test(tag);
}

export function isDigestLike(value: string): boolean {
  return value.includes(':');
}

/**
 * A digest the registry can verify: sha256 only (what every client sends). A well-formed digest
 * of another algorithm is refused as unsupported, anything else as invalid.
 */
export function checkDigest(value: string | undefined | null, what = 'digest'): Digest {
  if (value === undefined || value === null || value === '') throw new RegistryError('DIGEST_INVALID', `${what} is missing`);
  if (SHA256_PATTERN.test(value)) return value as Digest;
  if (ANY_DIGEST_PATTERN.test(value) && !value.startsWith('sha256:')) {
    throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm in ${JSON.stringify(value)}: only sha256 is supported`, { detail: { digest: value } });
  }
  throw new RegistryError('DIGEST_INVALID', `invalid ${what} ${JSON.stringify(value)}`, { detail: { digest: value } });
}

export function checkTag(tag: string): string {
  if (!isValidTag(tag)) throw new RegistryError('TAG_INVALID', `invalid tag ${JSON.stringify(tag)}`, { detail: { tag } });
  return tag;
}
