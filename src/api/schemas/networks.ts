import type { Static } from '@sinclair/typebox';
import type { NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest } from '../types/networks';
import { endpointSettings } from './containers';
import { bodyDecoder, bool, int, list, map, str, strings, strMap, struct } from './go-json';

const ipamConfig = struct('network.IPAMConfig', { Subnet: str(), IPRange: str(), Gateway: str(), AuxiliaryAddresses: strMap() });
const createBody = struct('types.NetworkCreateRequest', {
  Name: str(),
  CheckDuplicate: bool(),
  Driver: str(),
  Scope: str(),
  EnableIPv6: bool(),
  IPAM: struct('network.IPAM', { Driver: str(), Options: strMap(), Config: list(ipamConfig) }),
  Internal: bool(),
  Attachable: bool(),
  Ingress: bool(),
  ConfigOnly: bool(),
  ConfigFrom: struct('network.ConfigReference', { Network: str() }),
  Options: strMap(),
  Labels: strMap(),
});
const connectBody = struct('types.NetworkConnect', { Container: str(), EndpointConfig: endpointSettings });
const disconnectBody = struct('types.NetworkDisconnect', { Container: str(), Force: bool() });

// Compile-time guard: the schemas list only fields of the wire interfaces.
const fieldsExist = <_ extends never>() => undefined;
fieldsExist<Exclude<keyof Static<typeof createBody>, keyof NetworkCreateRequest>>();
fieldsExist<Exclude<keyof Static<typeof connectBody>, keyof NetworkConnectRequest>>();
fieldsExist<Exclude<keyof Static<typeof disconnectBody>, keyof NetworkDisconnectRequest>>();
void map;

export const networkCreateBody = bodyDecoder<NetworkCreateRequest>('types.NetworkCreateRequest', createBody);
export const networkConnectBody = bodyDecoder<NetworkConnectRequest>('types.NetworkConnect', connectBody);
export const networkDisconnectBody = bodyDecoder<NetworkDisconnectRequest>('types.NetworkDisconnect', disconnectBody);
