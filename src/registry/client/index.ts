/** The registry client: see types.ts for the contract pull, push, login and distribution code against. */
export * from './types';
export { RegistryClient, loginDomain } from './hosts';
export { RegistryError, type RegistryErrorEntry } from './errors';
export { DEFAULT_PLATFORM, parsePlatform, platformString, platformMatches, normalizePlatform } from './platform';
export { MANIFEST_ACCEPT, MANIFEST_SIZE_LIMIT } from './verify';
