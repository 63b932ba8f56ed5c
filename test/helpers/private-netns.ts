import { spawn, ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/**
 * A network namespace of our own, with only loopback (up), for processes that would
 * otherwise change the host's network: a private dockerd deletes the host's `docker0` when
 * started with `--bridge none`, and may add bridges, routes and iptables rules otherwise.
 * Interfaces, routes and firewall rules are per namespace; unix sockets on the filesystem
 * are not, so a daemon inside still answers on its socket in a temp folder.
 *
 * The namespace is held by a small `sh` (started with `unshare --net`) that exits when its
 * stdin closes, so it also goes away when the test process dies. Processes entered into it
 * with `command()` keep it alive until they exit too.
 */
export interface PrivateNetns {
  /** The holder's pid; the namespace is /proc/<pid>/ns/net. */
  pid: number;
  /** `file args…` rewritten to run inside the namespace (nsenter execs, so the pid is the program's own). */
  command(file: string, args: string[]): { file: string; args: string[] };
  close(): Promise<void>;
}

export async function createPrivateNetns(): Promise<PrivateNetns> {
  const holder = spawn('unshare', ['--net', '--', 'sh', '-c', 'ip link set lo up && echo ready && read _'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  await waitReady(holder);
  const pid = holder.pid!;
  return {
    pid,
    command: (file, args) => ({ file: 'nsenter', args: [`--net=/proc/${pid}/ns/net`, '--', file, ...args] }),
    async close() {
      if (holder.exitCode !== null || holder.signalCode !== null) return;
      const exited = once(holder, 'exit');
      holder.stdin!.end();
      await exited;
    },
  };
}

async function waitReady(holder: ChildProcess): Promise<void> {
  let stderr = '';
  holder.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    holder.once('error', reject);
    holder.once('exit', (code) => reject(new Error(`could not create a network namespace (unshare --net exited with ${code}): ${stderr.trim()}`)));
  });
}
