import type { AuthConfig, RegistryHosts, RegistrySession } from '../../../registry/client/types';

/** What the pull uses of the registry client (src/registry/client/types.ts). */
export type PullSession = Pick<RegistrySession, 'registry' | 'resolve' | 'openBlob' | 'listTags'>;
export type PullSessions = Pick<RegistryHosts, 'session'>;
export type PullAuth = AuthConfig;
export type ResolvedPull = Awaited<ReturnType<PullSession['resolve']>>;
