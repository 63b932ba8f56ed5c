import { defineCommand } from '../../command';
import { defaultServeConfig, loadServeConfigFile, mergeServeFlags } from '../../../registry/server/serve-config';
import { serveRegistry } from '../../../registry/server/serve';
import { createLogger } from '../../../util/logger';

/**
 * `berth registry serve`: runs the distribution-spec registry in the foreground, as its own
 * long-running process (not part of berthd), until SIGINT or SIGTERM. SIGHUP re-reads the
 * htpasswd and access files.
 */
export default defineCommand({
  usage: 'registry serve [OPTIONS]',
  description: 'Run an OCI distribution registry in the foreground',
  maxArgs: 0,
  flags: {
    addr: { kind: 'string', description: 'Address to listen on, HOST:PORT (default 127.0.0.1:5000)', valueName: 'host:port' },
    root: { kind: 'string', description: 'Storage root folder', valueName: 'dir' },
    htpasswd: { kind: 'string', description: 'htpasswd file (bcrypt) of the users who may log in', valueName: 'file' },
    access: { kind: 'string', description: 'Access rules file: who may pull, push and delete which repositories', valueName: 'file' },
    'tls-cert': { kind: 'string', description: 'Serve HTTPS with this certificate (PEM, chain); needs --tls-key', valueName: 'file' },
    'tls-key': { kind: 'string', description: 'Private key (PEM) of --tls-cert', valueName: 'file' },
    webhook: { kind: 'strings', description: 'URL to POST a JSON event to on each push and delete (repeatable)', valueName: 'url' },
    config: { kind: 'string', description: 'YAML or JSON file holding any of these settings and more (webhook templates, token auth, S3 storage); flags win', valueName: 'file' },
  },
  async run(ctx, flags) {
    const file = flags.config ? await loadServeConfigFile(flags.config) : defaultServeConfig();
    const config = mergeServeFlags(file, {
      addr: flags.addr || undefined,
      root: flags.root || undefined,
      htpasswd: flags.htpasswd || undefined,
      access: flags.access || undefined,
      tlsCert: flags['tls-cert'] || undefined,
      tlsKey: flags['tls-key'] || undefined,
      webhook: flags.webhook,
    });
    const logger = createLogger(undefined, 'registry');
    const running = await serveRegistry(config, logger);
    const { address, port, family } = running.address;
    ctx.out(`Listening on ${family === 'IPv6' ? `[${address}]` : address}:${port}\n`);
    return new Promise<number>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        logger.info(`${signal}: shutting down`);
        running.close().then(
          () => resolve(0),
          () => resolve(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      process.on('SIGHUP', () => {
        running.reload().then(
          () => logger.info('SIGHUP: reloaded the htpasswd and access files'),
          (err: unknown) => logger.error(`SIGHUP: reload failed, keeping the users and rules in use: ${(err as Error).message}`),
        );
      });
    });
  },
});
