export { createApiServer, buildRouter, type ApiServer, type ApiServerOptions } from './server';
export { MAX_API_VERSION, MIN_API_VERSION } from './api-version';
export { Router, type Handler } from './router';
export type { Exchange, HijackedStream } from './exchange';
export { sendJsonStream } from './json-stream';
