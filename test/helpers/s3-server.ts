import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { freePort, terminate } from './registry';

/**
 * An S3-compatible object store for tests: moto's server (`moto_server`, Python's moto with
 * its server extra, as installed on this kind of machine) in a child process on
 * 127.0.0.1:<free port>, in memory. Any access key is accepted. (s3rver was tried first: it
 * drops keys nested below a common prefix from delimiter listings.)
 */
export interface TestS3Server {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

let binary: string | null | undefined;

function motoServer(): string | undefined {
  if (binary === undefined) {
    const found = spawnSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' });
    const file = found.status === 0 ? found.stdout.trim() : '';
    // A pyenv shim exists for every version; make sure it runs.
    binary = file && spawnSync(file, ['--help'], { timeout: 30_000 }).status === 0 ? file : null;
  }
  return binary ?? undefined;
}

export function s3ServerSkipReason(): string | undefined {
  return motoServer() ? undefined : 'no S3-compatible server: moto_server (pip install "moto[server]") is not installed';
}

export async function startS3Server(): Promise<TestS3Server> {
  const file = motoServer();
  if (!file) throw new Error(s3ServerSkipReason());
  const port = await freePort();
  const child: ChildProcess = spawn(file, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await terminate(child);
      throw new Error(`moto_server did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoint: `http://127.0.0.1:${port}`, accessKeyId: 'berth-test', secretAccessKey: 'berth-test-secret', stop: () => terminate(child) };
}
