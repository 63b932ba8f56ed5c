import { defineCommand, StatusError } from '../../command';
import { EngineClient } from '../../../client/engine-client';
import { startDaemonInBackground, waitForDaemon } from '../../daemon/connect';
import { DAEMON_FLAGS, daemonArgs, daemonHost } from './daemon-flags';

export default defineCommand({
  usage: 'daemon start [OPTIONS]',
  description: 'Start the Berth daemon in the background',
  maxArgs: 0,
  flags: { ...DAEMON_FLAGS, timeout: { kind: 'int', description: 'Seconds to wait for the daemon to answer', default: 10 } },
  async run(ctx, flags) {
    const client = new EngineClient({ host: daemonHost(flags, ctx.hostFlag) });
    try {
      await client.ping();
      ctx.out(`berthd is already running at ${client.host.url}\n`);
      return 0;
    } catch {
      // not running: start it
    }
    const pid = startDaemonInBackground(daemonArgs(flags));
    try {
      await waitForDaemon(client, flags.timeout * 1000);
    } catch (err: unknown) {
      throw new StatusError(1, err instanceof Error ? err.message : String(err));
    } finally {
      client.close();
    }
    ctx.out(`berthd started (pid ${pid}) at ${client.host.url}\n`);
  },
});
