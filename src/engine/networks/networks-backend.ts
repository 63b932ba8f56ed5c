import type { NetworksBackend } from '../../api/backend';
import type { Filters } from '../../api/types/common';
import type { NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest, NetworkResource, NetworksPruneResponse } from '../../api/types/networks';
import type { ContainerNetworking } from './container-networking';
import type { NetworkService } from './network-service';

/** Maps the /networks routes onto the network service and the containers' networking. */
export class NetworksBackendImpl implements NetworksBackend {
  constructor(
    private readonly networks: NetworkService,
    private readonly containers: ContainerNetworking,
  ) {}

  async list(filters: Filters): Promise<NetworkResource[]> {
    return this.networks.list(filters);
  }

  create(body: NetworkCreateRequest): Promise<NetworkCreateResponse> {
    return this.networks.create(body);
  }

  async inspect(idOrName: string): Promise<NetworkResource> {
    return this.networks.inspect(idOrName);
  }

  remove(idOrName: string): Promise<void> {
    return this.networks.remove(idOrName);
  }

  prune(filters: Filters): Promise<NetworksPruneResponse> {
    return this.networks.prune(filters);
  }

  connect(idOrName: string, body: NetworkConnectRequest): Promise<void> {
    return this.containers.connect(idOrName, body);
  }

  disconnect(idOrName: string, body: NetworkDisconnectRequest): Promise<void> {
    return this.containers.disconnect(idOrName, body);
  }
}
