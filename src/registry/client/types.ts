import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Reference } from '../../images/reference';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform } from '../../images/models';
import type { Digest } from '../../util/digest';

/**
 * The registry client's contract, used by the engine's pull and push (src/engine/images/) and
 * by login and `GET /distribution`. One RegistryHosts per daemon holds the registry settings
 * (mirrors, insecure registries) and what it learnt about each host (scheme, auth challenge);
 * a RegistrySession is one repository on one registry with one set of credentials, for one
 * operation (a pull, a push), and caches its tokens for that operation.
 *
 * Lifecycle: `hosts.session(ref, opts)` is cheap and does no I/O; the first `request()` pings
 * `/v2/` (choosing https or, for insecure/loopback registries, plain http) and answers the
 * auth challenge; later requests reuse the token and re-authenticate on a 401.
 * Every failure is a RegistryError (errors.ts) whose message names the registry and what failed.
 */

/** Credentials, as docker sends them in X-Registry-Auth and keeps in config.json. */
export interface AuthConfig {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (from an earlier login): exchanged at the token realm. */
  identityToken?: string;
  /** A bearer token used as is. */
  registryToken?: string;
  serverAddress?: string;
}

export type Action = 'pull' | 'push' | 'delete';

export interface SessionOptions {
  auth?: AuthConfig;
  /** What the token must grant on the session's repository; default ['pull']. */
  actions?: Action[];
  /** More token scopes, e.g. `repository:other/repo:pull` for a cross-repository mount. */
  extraScopes?: string[];
  /** Aborts every request of the session. */
  signal?: AbortSignal;
}

export interface RegistryRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /**
   * Relative to the repository's base, e.g. `manifests/latest`, `blobs/uploads/`; or an
   * absolute path (`/v2/...`) or URL, as registries give in Location headers.
   */
  path: string;
  headers?: Record<string, string>;
  /**
   * The body: bytes, or a function making a fresh stream (called again if the request must be
   * repeated after an auth challenge).
   */
  body?: Buffer | (() => Readable);
  /** Statuses the caller handles itself; any other status becomes a RegistryError. Default: 2xx. */
  accept?: (status: number) => boolean;
}

export interface RegistryResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The URL that answered (after redirects). */
  url: URL;
  /** The body; read it or call `discard()`. */
  body: Readable;
  /** The body as bytes, refused beyond `limit` bytes. */
  bytes(limit?: number): Promise<Buffer>;
  discard(): Promise<void>;
}

/** A manifest or index as fetched: its exact bytes, verified against the digest. */
export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
  /** Exactly one of these is set, according to the media type. */
  manifest?: ImageManifest;
  index?: ImageIndex;
}

export interface ResolvedImage {
  /** The reference as asked, normalised, e.g. docker.io/library/busybox:latest. */
  ref: Reference;
  /** The digest the reference points to (an index's digest for a multi-platform image): what RepoDigests records. */
  digest: Digest;
  /** The top-level document (the index or list, or the manifest itself). */
  root: FetchedManifest;
  /** The manifest chosen for the platform (the root itself when it is a manifest). */
  manifest: FetchedManifest & { manifest: ImageManifest };
  config: { descriptor: Descriptor; bytes: Buffer; config: ImageConfig };
  /** The platform the image runs on, from the chosen index entry or the config. */
  platform: Platform;
}

export interface BlobStream {
  stream: Readable;
  /** Where `stream` starts in the blob: the asked offset, or 0 when the registry ignored the Range. */
  offset: number;
  /** The blob's whole size. */
  size: number;
}

export interface RegistrySession {
  readonly ref: Reference;
  /** The registry's host as users name it (docker.io, localhost:5000): for messages. */
  readonly registry: string;
  /** The repository path on the registry (library/busybox). */
  readonly repository: string;

  /** An authenticated request against the repository. */
  request(req: RegistryRequest): Promise<RegistryResponse>;
  /**
   * The image for `ref` (its tag, or its digest when it has one): the root document, the
   * manifest for `platform` (default: linux/amd64), and its config, all verified.
   */
  resolve(platform?: Platform): Promise<ResolvedImage>;
  /** A manifest or index by tag or digest, verified (digest, media type, CVE-2021-41190, size). */
  fetchManifest(tagOrDigest: string): Promise<FetchedManifest>;
  /** A small blob (a config) read whole and verified. */
  fetchBlob(desc: Descriptor, limit?: number): Promise<Buffer>;
  /**
   * A blob's bytes from `offset` (HTTP Range), not verified: the caller digests the whole
   * blob, including any part it already had, and compares with `desc.digest`.
   */
  openBlob(desc: Descriptor, opts?: { offset?: number }): Promise<BlobStream>;
  /** Whether the repository has the blob (HEAD). */
  hasBlob(digest: Digest): Promise<boolean>;
  /** Every tag of the repository, following the Link header's pagination. */
  listTags(): Promise<string[]>;
}

export interface RegistryHosts {
  session(ref: Reference, opts?: SessionOptions): RegistrySession;
  /** Checks credentials against the registry's /v2/ (docker login); returns the identity token, if the registry gives one. */
  login(serverAddress: string, auth: AuthConfig): Promise<{ identityToken: string }>;
}

/** Registry settings of the daemon (dockerd's registry.ServiceOptions). */
export interface RegistrySettings {
  /** Mirrors for docker.io, tried in order before docker.io itself, for pulls only. */
  mirrors: string[];
  /** Hosts (`host[:port]`) and CIDRs spoken to over plain HTTP or unverified TLS. */
  insecureRegistries: string[];
  /** dockerd's certs.d layout: `<dir>/<host:port>/*.crt` CAs, `*.cert`/`*.key` client certificates. */
  certsDir?: string;
}
