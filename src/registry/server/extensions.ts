import type { Logger } from '../../util/logger';
import type { ServeConfig } from './config';
import type { EventSink, ExtraRoute, RegistryAuth } from './hooks';

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
}

export async function buildExtensions(config: ServeConfig, _logger: Logger): Promise<ServeExtensions> {
  const missing = [config.htpasswd !== undefined && '--htpasswd', config.access !== undefined && '--access', config.webhooks.length > 0 && '--webhook'].filter(Boolean);
  if (missing.length > 0) throw new Error(`${missing.join(', ')}: registry auth and webhooks are not available in this build yet`);
  return {};
}
