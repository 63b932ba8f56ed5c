import * as http from 'node:http';
import { unlinkSync } from 'node:fs';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { parseArgs } from '../args/parser';
import { CliContext } from '../context';
import { COMMANDS } from '../registry';

/**
 * V8 compiles a function the first time it runs, so a spare that has only loaded the modules
 * would still compile the HTTP client, the flag parser and the command's own code inside the
 * user's command. A spare runs these commands once ahead, against an in-process stand-in for
 * the daemon, with their output discarded.
 */
const WARM_UP_COMMANDS: Array<[command: string, argv: string[]]> = [
  ['container run', ['--rm', '--network', 'none', 'busybox', 'true']],
  ['container ls', []],
  ['version', []],
];

/**
 * Each command runs this often: V8 gives a function its feedback vector (inline caches)
 * only after several calls, and compiles it to baseline code later still; after a single
 * round the user's command still ran uncached property lookups (spare CPU per run --rm: 18 -> 15 ms).
 */
const WARM_UP_ROUNDS = 4;

const ID = 'a'.repeat(64);

/** Just enough of the Engine API for WARM_UP_COMMANDS. */
function standIn(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = (req.url ?? '').replace(/^\/v[\d.]+/, '').replace(/\?.*$/, '');
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Api-Version': '1.45' });
    res.end(JSON.stringify(body));
  };
  req.resume();
  if (url === '/_ping') return void res.writeHead(200, { 'Api-Version': '1.45', 'Ostype': 'linux' }).end('OK');
  if (url === '/containers/create') return json(201, { Id: ID, Warnings: [] });
  if (url === `/containers/${ID}/start`) return void res.writeHead(204).end();
  if (url === `/containers/${ID}/wait`) return json(200, { StatusCode: 0, Error: null });
  if (url === '/containers/json') return json(200, []);
  if (url === '/version') return json(200, { Version: '0', ApiVersion: '1.45', MinAPIVersion: '1.24', Os: 'linux', Arch: 'amd64', Components: [] });
  json(404, { message: `warm-up: no ${req.method} ${url}` });
}

/** attach: the 101 and one stdout frame, then the end of the stream. */
function upgrade(_req: http.IncomingMessage, socket: Socket): void {
  const frame = Buffer.concat([Buffer.from([1, 0, 0, 0, 0, 0, 0, 2]), Buffer.from('x\n')]);
  socket.end(Buffer.concat([Buffer.from('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n'), frame]));
}

/**
 * Runs WARM_UP_COMMANDS against a stand-in daemon listening on `socketPath` (a path in the
 * spares' root-only folder), then closes everything it opened: no connection, listener or
 * signal handler is left for the command the spare takes later. Resolves with the commands
 * that did not end with status 0 (a spare serves all the same, only slower).
 */
export async function warmUp(socketPath: string): Promise<string[]> {
  const server = http.createServer(standIn);
  server.on('upgrade', upgrade);
  const failed: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, resolve);
    });
    const discard = new Writable({ write: (_chunk, _encoding, done) => done() }) as unknown as NodeJS.WriteStream;
    for (const [name, argv] of Array.from({ length: WARM_UP_ROUNDS }, () => WARM_UP_COMMANDS).flat()) {
      const ctx = new CliContext('berth', `unix://${socketPath}`, discard, discard);
      try {
        const def = COMMANDS[name]!().default;
        const parsed = parseArgs(argv, def.flags, { interspersed: def.interspersed });
        const status = await def.run(ctx, parsed.flags, parsed.args, parsed.changed);
        if ((status ?? 0) !== 0) failed.push(`${name}: status ${status}`);
      } catch (err: unknown) {
        failed.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        await ctx.client().then((client) => client.close(), () => undefined);
      }
    }
  } catch (err: unknown) {
    failed.push(`stand-in: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    try {
      unlinkSync(socketPath);
    } catch {
      // never bound
    }
  }
  return failed;
}
