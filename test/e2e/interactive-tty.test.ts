import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapBusybox, CLI_MAIN, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { berth, DOCKER_CLIENTS } from '../helpers/cli';
import { PtySession, SCRIPT } from '../helpers/pty';

const skip = needsRoot('needs root (runc, overlay mounts)') || (!SCRIPT ? 'util-linux script is not installed' : false);

interface Client {
  name: string;
  /** The command line (for `script -c`) running this client with `args`. */
  command(args: string): string;
  env: NodeJS.ProcessEnv;
}

/** `run -it` and `exec -it` give a real interactive shell, with berth's CLI and the docker CLIs. */
describe('interactive TTY: run -it and exec -it', { skip }, () => {
  let daemon: TestDaemon;
  const clients = (): Client[] => [
    { name: 'berth', command: (args) => `${CLI_MAIN} ${args}`, env: { BERTH_HOST: daemon.host } },
    ...DOCKER_CLIENTS.map((c) => ({ name: c, command: (args: string) => `${c} -H ${daemon.host} ${args}`, env: { DOCKER_CONFIG: '/nonexistent-docker-config', DOCKER_CLI_HINTS: 'false' } })),
  ];

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('run --rm -it busybox sh: a TTY of the right size, resize, Ctrl-C, exit code', async () => {
    for (const client of clients()) {
      const session = new PtySession(client.command('run --rm -it busybox sh'), client.env, { rows: 24, cols: 80 });
      try {
        await checkInteractiveShell(session, client.name);
      } finally {
        session.kill();
      }
    }
    assert.equal((await berth(daemon.host, ['ps', '-aq'])).stdout, '', 'the --rm containers are gone');
  });

  it('exec -it c sh: the same, in a running container', async () => {
    const started = await berth(daemon.host, ['run', '-d', '--name', 'host-of-exec', 'busybox', 'sleep', '1000']);
    assert.equal(started.code, 0, started.stderr);
    for (const client of clients()) {
      const session = new PtySession(client.command('exec -it host-of-exec sh'), client.env, { rows: 24, cols: 80 });
      try {
        await checkInteractiveShell(session, client.name);
      } finally {
        session.kill();
      }
    }
    const state = await berth(daemon.host, ['inspect', '-f', '{{.State.Status}}', 'host-of-exec']);
    assert.equal(state.stdout.trim(), 'running', 'the container outlives its exec sessions');
    await berth(daemon.host, ['rm', '-f', 'host-of-exec']);
  });
});

async function checkInteractiveShell(session: PtySession, name: string): Promise<void> {
  let mark = 0;
  // Each command echoes a marker spelled differently from what was typed, so the terminal's
  // echo of our input never matches; `mark` keeps each wait to new output.
  const ask = async (command: string, tag: string, pattern: RegExp): Promise<RegExpMatchArray> => {
    session.write(`${command}; echo "${tag}=""done"\n`);
    const match = await session.waitFor(new RegExp(`([\\s\\S]*?)${tag}=done`), 15_000, mark);
    mark += (match.index ?? 0) + match[0].length;
    const found = match[1]!.match(pattern);
    assert.ok(found, `${name}: ${command} printed ${JSON.stringify(match[1])}`);
    return found;
  };

  await session.waitFor(/\/ # /);
  await ask('tty', 'T1', /\/dev\/pts\/0/);
  await ask('stty size', 'S1', /\b24 80\b/);

  await session.resize(40, 120);
  // The client learns of the change through SIGWINCH and tells the daemon: allow a moment.
  let size = '';
  for (let i = 0; i < 20 && size !== '40 120'; i++) {
    size = (await ask('stty size', `S2x${i}`, /\b(\d+ \d+)\b/))[1]!;
    if (size !== '40 120') await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(size, '40 120', `${name}: the terminal was resized`);

  session.write('echo "SLE""EPING"; sleep 100\n');
  await session.waitFor(/SLEEPING/, 15_000, mark);
  await new Promise((r) => setTimeout(r, 300));
  const interrupted = Date.now();
  session.write('\x03');
  await ask('echo "rc=$?"', 'C1', /rc=130/);
  assert.ok(Date.now() - interrupted < 5000, `${name}: Ctrl-C interrupted sleep at once`);

  session.write('exit 5\n');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<number>((_, reject) => (timer = setTimeout(() => reject(new Error(`${name}: did not exit`)), 15_000)));
  const code = await Promise.race([session.exited, timeout]).finally(() => clearTimeout(timer));
  assert.equal(code, 5, `${name}: exit code of the shell; terminal showed ${JSON.stringify(session.output)}`);
}
