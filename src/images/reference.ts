import { invalidArgument } from '../errors';
import type { Digest } from '../util/digest';

/**
 * Docker image references, with the grammar and normalization of distribution/reference:
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [domain '/'] path-component ['/' path-component]*
 * Familiar names ("busybox", "user/app") normalize to "docker.io/library/busybox",
 * "docker.io/user/app". Errors carry Docker's wording, which clients show verbatim.
 */
export interface Reference {
  /** Registry host, e.g. "docker.io", "localhost:5000". */
  domain: string;
  /** Repository path inside the registry, e.g. "library/busybox". */
  path: string;
  tag?: string;
  digest?: Digest;
}

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
const NAME_TOTAL_LENGTH_MAX = 255;

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const DOMAIN = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;

const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;
const ANCHORED_DOMAIN_RE = new RegExp(`^(?:(${DOMAIN})/)?(.*)$`);

export const ERR_INVALID_FORMAT = 'invalid reference format';

function fail(message: string): never {
  throw invalidArgument(message);
}

function validateDigest(value: string): Digest {
  const [algorithm, hex] = value.split(':', 2);
  // berth stores sha256 only; go-digest's other algorithms are refused with its wording.
  if (algorithm !== 'sha256') fail('unsupported digest algorithm');
  if (hex.length !== 64) fail('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(hex)) fail('invalid checksum digest format');
  return value as Digest;
}

/** distribution's reference.Parse: the grammar only, no normalization. */
function parseRaw(s: string): { name: string; tag?: string; digest?: Digest } {
  const m = REFERENCE_RE.exec(s);
  if (!m) {
    if (s === '') fail('repository name must have at least one component');
    if (REFERENCE_RE.test(s.toLowerCase())) fail('repository name must be lowercase');
    fail(ERR_INVALID_FORMAT);
  }
  if (m[1].length > NAME_TOTAL_LENGTH_MAX) fail(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  return { name: m[1], tag: m[2], digest: m[3] !== undefined ? validateDigest(m[3]) : undefined };
}

/** Splits "host/path" the way Docker does: the first component is a domain only if it looks like one. */
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = i === -1 ? '' : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/** reference.ParseNormalizedNamed: accepts familiar names; the result is fully qualified. */
export function parseNormalizedNamed(s: string): Reference {
  if (IDENTIFIER_RE.test(s)) fail(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  const { domain, remainder } = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remoteName = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remoteName.toLowerCase() !== remoteName) fail(`${ERR_INVALID_FORMAT}: repository name must be lowercase`);
  const raw = parseRaw(`${domain}/${remainder}`);
  const split = ANCHORED_DOMAIN_RE.exec(raw.name);
  const ref: Reference = { domain: split?.[1] ?? domain, path: split?.[2] ?? remainder };
  if (raw.tag !== undefined) ref.tag = raw.tag;
  if (raw.digest !== undefined) ref.digest = raw.digest;
  return ref;
}

/** reference.ParseDockerRef: normalized, "latest" when neither tag nor digest, tag dropped when a digest is given. */
export function parseDockerRef(s: string): Reference {
  const ref = parseNormalizedNamed(s);
  if (ref.digest !== undefined) return { domain: ref.domain, path: ref.path, digest: ref.digest };
  return withDefaultTag(ref);
}

/** reference.TagNameOnly. */
export function withDefaultTag(ref: Reference): Reference {
  if (ref.tag === undefined && ref.digest === undefined) return { ...ref, tag: DEFAULT_TAG };
  return ref;
}

export type AnyReference = { kind: 'id'; digest: Digest } | { kind: 'named'; ref: Reference };

/** reference.ParseAnyReference: a 64-hex ID or a sha256 digest is an ID; anything else a name. */
export function parseAnyReference(s: string): AnyReference {
  if (IDENTIFIER_RE.test(s)) return { kind: 'id', digest: `sha256:${s}` };
  if (/^sha256:[a-f0-9]{64}$/.test(s)) return { kind: 'id', digest: s as Digest };
  return { kind: 'named', ref: parseNormalizedNamed(s) };
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** Fully qualified repository name: "docker.io/library/busybox". */
export function fullName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** Familiar repository name: "busybox", "user/app", "localhost:5000/app". */
export function familiarName(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return fullName(ref);
  return ref.path.startsWith(OFFICIAL_REPO_PREFIX) && !ref.path.slice(OFFICIAL_REPO_PREFIX.length).includes('/')
    ? ref.path.slice(OFFICIAL_REPO_PREFIX.length)
    : ref.path;
}

function suffix(ref: Reference): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** "busybox:latest", "localhost:5000/app@sha256:...". */
export function familiarString(ref: Reference): string {
  return familiarName(ref) + suffix(ref);
}

/** "docker.io/library/busybox:latest". */
export function referenceString(ref: Reference): string {
  return fullName(ref) + suffix(ref);
}

/**
 * Docker's `reference` filter: a path.Match glob against the familiar name (and, when the
 * pattern has a tag part, against "name:tag"), e.g. "busy*", "busybox:1.*".
 */
export function familiarMatch(pattern: string, ref: Reference): boolean {
  const re = globToRegExp(pattern);
  const name = familiarName(ref);
  if (re.test(name)) return true;
  if (ref.tag !== undefined && re.test(`${name}:${ref.tag}`)) return true;
  return false;
}

/** Go's path.Match: `*` and `?` do not match "/", `[...]` classes, `\` escapes. */
export function globToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) out += escapeRe(pattern[++i]);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end === -1) {
        out += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, end);
      if (body.startsWith('^')) body = '^' + body.slice(1).replace(/[\]\\]/g, '\\$&');
      else body = body.replace(/[\]\\^]/g, '\\$&');
      out += `[${body}]`;
      i = end;
    } else out += escapeRe(c);
  }
  return new RegExp(`^${out}$`);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
