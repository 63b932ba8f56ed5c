import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PrivateNetns } from './private-netns';

/**
 * Makes a host loopback port (127.0.0.1:<port>) reachable at the same address inside a
 * private network namespace (a private dockerd's, podman's), so one image name such as
 * `127.0.0.1:5000/app` means the same registry on both sides, and nothing on the host's
 * network changes (no veth, no routes).
 *
 * Unix sockets on the filesystem are not per namespace, so: a small Node process entered
 * into the namespace listens on its 127.0.0.1:<port> and connects each client to a unix
 * socket in a temp folder, where this process connects it on to the host's 127.0.0.1:<port>.
 * The in-namespace process exits when its stdin closes (with the test process too).
 */
export interface NetnsForward {
  port: number;
  close(): Promise<void>;
}

const INSIDE = `
const net = require('node:net');
const [port, socket, address] = process.argv.slice(1);
const server = net.createServer((client) => {
  const upstream = net.connect(socket);
  client.pipe(upstream).pipe(client);
  const drop = () => { client.destroy(); upstream.destroy(); };
  client.on('error', drop); upstream.on('error', drop);
});
server.listen(Number(port), address, () => process.stdout.write('ready\\n'));
server.on('error', (err) => { process.stderr.write(String(err) + '\\n'); process.exit(1); });
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

/**
 * `address` is where the forwarder listens inside the namespace: its 127.0.0.1 by default,
 * 0.0.0.0 to be reachable from the namespace's containers too (at their bridge gateway).
 */
export async function forwardIntoNetns(netns: PrivateNetns, port: number, address = '127.0.0.1'): Promise<NetnsForward> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fw-'));
  const socket = path.join(dir, 'fw.sock');
  const sockets = new Set<net.Socket>();
  const bridge = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    // A graceful end travels on through pipe() (and flushes what is buffered); only an
    // error tears both sides down at once.
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', drop);
      s.on('close', () => sockets.delete(s));
    }
  });
  bridge.listen(socket);
  await once(bridge, 'listening');
  const command = netns.command(process.execPath, ['-e', INSIDE, String(port), socket, address]);
  const inside = spawn(command.file, command.args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  inside.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const close = async () => {
    if (inside.exitCode === null && inside.signalCode === null) {
      const exited = once(inside, 'exit');
      inside.stdin!.end();
      const timer = setTimeout(() => inside.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => bridge.close(() => resolve()));
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      inside.stdout!.once('data', () => resolve());
      inside.once('error', reject);
      inside.once('exit', (code) => reject(new Error(`the forwarder into the network namespace exited with ${code}: ${stderr.trim()}`)));
    });
  } catch (err: unknown) {
    await close();
    throw err;
  }
  return { port, close };
}
