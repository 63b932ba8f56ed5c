import { readFileSync } from 'node:fs';
import { defineCommand } from '../../command';
import { EngineClient } from '../../../client/engine-client';
import { DAEMON_PID_FILE } from '../../daemon/paths';
import { DAEMON_FLAGS, daemonHost } from './daemon-flags';

export default defineCommand({
  usage: 'daemon status',
  description: 'Tell whether the Berth daemon answers on its socket',
  maxArgs: 0,
  flags: { socket: DAEMON_FLAGS.socket },
  async run(ctx, flags) {
    const client = new EngineClient({ host: daemonHost({ socket: flags.socket, 'data-root': undefined, 'exec-root': undefined }, ctx.hostFlag) });
    let pid = '';
    try {
      pid = readFileSync(DAEMON_PID_FILE, 'utf8').trim();
    } catch {
      // no pid file
    }
    try {
      const ping = await client.ping();
      ctx.out(`berthd is running at ${client.host.url}${pid ? ` (pid ${pid})` : ''}, API version ${ping.apiVersion}\n`);
      return 0;
    } catch {
      ctx.out(`berthd is not running at ${client.host.url}\n`);
      return 1;
    } finally {
      client.close();
    }
  },
});
