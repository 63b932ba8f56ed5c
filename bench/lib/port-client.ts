import * as http from 'node:http';
import * as net from 'node:net';

/**
 * The client side of the published-port benchmarks, as a process of its own so it can run
 * inside an engine's network namespace (its "host"): prints the elapsed milliseconds as JSON.
 *
 *   node port-client.js download <host> <port> <bytes>       one connection, read to the end
 *   node port-client.js requests <host> <port> <count> <concurrency>   GET / that many times,
 *                                                               a new connection each
 * Both retry for up to 30 s while the server is not there yet (a container still starting).
 */
async function main(): Promise<void> {
  const [mode, host, port, a, b] = process.argv.slice(2);
  if (!host || !port || !a) throw new Error('usage: port-client download|requests <host> <port> <bytes|count> [concurrency]');
  if (mode === 'download') {
    const want = Number(a);
    for (let attempt = 0; ; attempt++) {
      const start = process.hrtime.bigint();
      const got = await download(host, Number(port)).catch(() => 0);
      if (got === want) return print(start);
      if (attempt >= 300) throw new Error(`download: got ${got} bytes of ${want}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (mode === 'requests') {
    const count = Number(a);
    const concurrency = Number(b ?? 8);
    await get(host, Number(port), 300); // the server is up
    const agent = new http.Agent({ keepAlive: false, maxSockets: concurrency });
    let next = 0;
    const start = process.hrtime.bigint();
    const worker = async () => {
      while (next < count) {
        next++;
        await get(host, Number(port), 3, agent);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return print(start);
  }
  throw new Error(`unknown mode ${mode ?? ''}`);
}

function print(start: bigint): void {
  process.stdout.write(`${JSON.stringify({ ms: Number(process.hrtime.bigint() - start) / 1e6 })}\n`);
}

function download(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const socket = net.connect(port, host);
    socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
    socket.on('end', () => resolve(bytes));
    socket.on('error', reject);
  });
}

async function get(host: string, port: number, attempts: number, agent?: http.Agent): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        http
          .get({ host, port, path: '/', agent: agent ?? false }, (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET /: ${res.statusCode}`))));
            res.on('error', reject);
          })
          .on('error', reject);
      });
      return;
    } catch (err: unknown) {
      if (attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
