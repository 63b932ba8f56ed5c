import { spawn } from 'node:child_process';
import { defineCommand } from '../../command';
import { daemonLauncher } from '../../daemon/paths';
import { DAEMON_FLAGS, daemonArgs } from './daemon-flags';

export default defineCommand({
  usage: 'daemon [OPTIONS]',
  description: 'Run the Berth daemon in the foreground',
  maxArgs: 0,
  flags: DAEMON_FLAGS,
  async run(_ctx, flags) {
    const child = spawn(daemonLauncher(), daemonArgs(flags), { stdio: 'inherit' });
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
    return new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  },
});
