import type { RegistryServiceConfig } from '../../api/types/system';
import type { RegistrySettings } from '../../registry/client/types';

const LOOPBACK_CIDR = '127.0.0.0/8';

/**
 * `docker info`'s RegistryConfig, as dockerd builds it (registry.ServiceConfig): CIDRs of
 * insecure registries (loopback always), one IndexConfig per named insecure registry
 * (Secure: false) and docker.io's with the mirrors.
 */
export function registryServiceConfig(settings: RegistrySettings): RegistryServiceConfig {
  const cidrs = [LOOPBACK_CIDR];
  const indexConfigs: RegistryServiceConfig['IndexConfigs'] = {};
  for (const entry of settings.insecureRegistries) {
    if (/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(entry)) {
      if (!cidrs.includes(entry)) cidrs.push(entry);
    } else {
      indexConfigs[entry] = { Name: entry, Mirrors: [], Secure: false, Official: false };
    }
  }
  indexConfigs['docker.io'] = { Name: 'docker.io', Mirrors: [...settings.mirrors], Secure: true, Official: true };
  return {
    AllowNondistributableArtifactsCIDRs: [],
    AllowNondistributableArtifactsHostnames: [],
    InsecureRegistryCIDRs: cidrs,
    IndexConfigs: indexConfigs,
    Mirrors: [...settings.mirrors],
  };
}
