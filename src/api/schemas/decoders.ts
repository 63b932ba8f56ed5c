import type { BodyDecoder } from './go-json';

/**
 * The request body decoders the routes use, each loaded on its first request: TypeBox and
 * the compiled schemas cost about 2.5 MB of heap (and their code), which an idle daemon
 * does not need (bench: daemon idle RSS).
 */
function lazyDecoder<T>(load: () => BodyDecoder<T>): BodyDecoder<T> {
  let decoder: BodyDecoder<T> | undefined;
  return { decode: (value) => (decoder ??= load()).decode(value) };
}

const containers = () => require('./containers') as typeof import('./containers');
const exec = () => require('./exec') as typeof import('./exec');
const networks = () => require('./networks') as typeof import('./networks');

export const containerCreateBody = lazyDecoder(() => containers().containerCreateBody);
export const commitConfigBody = lazyDecoder(() => containers().commitConfigBody);
export const containerUpdateBody = lazyDecoder(() => containers().containerUpdateBody);
export const execCreateBody = lazyDecoder(() => exec().execCreateBody);
export const execStartBody = lazyDecoder(() => exec().execStartBody);
export const networkCreateBody = lazyDecoder(() => networks().networkCreateBody);
export const networkConnectBody = lazyDecoder(() => networks().networkConnectBody);
export const networkDisconnectBody = lazyDecoder(() => networks().networkDisconnectBody);
export const volumeCreateBody = lazyDecoder(() => (require('./volumes') as typeof import('./volumes')).volumeCreateBody);
