export * from './oci-types';
export * from './container-config';
export * from './capabilities';
export * from './seccomp-profile';
export * from './build-spec';
export { DOCKER_DEFAULT_SECCOMP_PROFILE } from './seccomp-default-profile';
export type { DockerSeccompProfile } from './seccomp-default-profile';
