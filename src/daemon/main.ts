import { promises as fs } from 'node:fs';
import { DAEMON_USAGE, parseDaemonArgs } from './config';
import { applyConfigFile } from './config-file';
import { startDaemon } from './daemon';
import { createLogger } from '../util/logger';
import { messageOf } from '../errors';

/** berthd: parses flags, starts the engine, stops it cleanly on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const flags = parseDaemonArgs(process.argv.slice(2));
  if (flags === 'help') {
    process.stdout.write(DAEMON_USAGE);
    return;
  }
  const config = await applyConfigFile(flags);
  if (process.getuid?.() !== 0) throw new Error('berthd needs to be started as root');
  const logger = createLogger(config.logLevel, 'berthd');
  const daemon = await startDaemon(config, logger);
  await fs.writeFile(config.pidFile, `${process.pid}\n`);
  logger.info('berthd is ready', { socket: config.socketPath, dataRoot: config.dataRoot, pid: process.pid });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    void daemon
      .stop()
      .then(() => fs.rm(config.pidFile, { force: true }))
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error('shutdown failed', { error: messageOf(err) });
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => undefined);
}

main().catch((err: unknown) => {
  process.stderr.write(`berthd: ${messageOf(err)}\n`);
  process.exit(1);
});
