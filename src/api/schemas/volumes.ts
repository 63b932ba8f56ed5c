import type { Static } from '@sinclair/typebox';
import type { VolumeCreateRequest } from '../backend';
import { bodyDecoder, str, strMap, struct } from './go-json';

const createBody = struct('CreateOptions', { Name: str(), Driver: str(), DriverOpts: strMap(), Labels: strMap() });

// Compile-time guard: the schema lists only fields of the wire interface.
const fieldsExist = <_ extends never>() => undefined;
fieldsExist<Exclude<keyof Static<typeof createBody>, keyof VolumeCreateRequest>>();

/** POST /volumes/create */
export const volumeCreateBody = bodyDecoder<VolumeCreateRequest>('CreateOptions', createBody);
