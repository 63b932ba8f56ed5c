import { readFileSync } from 'node:fs';
import { defineCommand, StatusError } from '../../command';
import { DAEMON_PID_FILE } from '../../daemon/paths';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export default defineCommand({
  usage: 'daemon stop [OPTIONS]',
  description: 'Stop the Berth daemon (SIGTERM to the pid in /run/berth/berthd.pid)',
  maxArgs: 0,
  flags: {
    'pid-file': { kind: 'string', description: 'The daemon pid file', default: DAEMON_PID_FILE },
    timeout: { kind: 'int', short: 't', description: 'Seconds to wait before giving up', default: 30 },
  },
  async run(ctx, flags) {
    let pid: number;
    try {
      pid = Number(readFileSync(flags['pid-file'], 'utf8').trim());
    } catch {
      ctx.out('berthd is not running\n');
      return 0;
    }
    if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) {
      ctx.out('berthd is not running\n');
      return 0;
    }
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + flags.timeout * 1000;
    while (alive(pid)) {
      if (Date.now() > deadline) throw new StatusError(1, `berthd (pid ${pid}) did not stop within ${flags.timeout}s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    ctx.out(`berthd stopped (pid ${pid})\n`);
  },
});
