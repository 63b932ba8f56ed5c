import type { Logger } from '../../util/logger';
import type { EventSink, ExtraRoute, RegistryAuth } from './hooks';
import { buildServeHooks, type ServeConfig } from './serve-config';

/**
 * What the serve configuration plugs into the server's hooks: authentication and access
 * control (--htpasswd, --access, the token endpoint) and event delivery (--webhook).
 */
export interface ServeExtensions {
  auth?: RegistryAuth;
  events?: EventSink;
  routes?: ExtraRoute[];
  /** Stops background work (webhook deliveries) on shutdown. */
  close?(): Promise<void>;
  /** Re-reads the users and access rules files (SIGHUP). */
  reload?(): Promise<void>;
}

export async function buildExtensions(config: ServeConfig, logger: Logger): Promise<ServeExtensions> {
  const hooks = await buildServeHooks(config, logger);
  return {
    auth: hooks.auth,
    events: hooks.events,
    routes: hooks.auth ? [hooks.auth.tokenRoute] : [],
    close: async () => {
      await hooks.events?.close();
    },
    reload: hooks.reload,
  };
}
