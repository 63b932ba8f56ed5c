import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fs, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { bootstrapBusybox, CLI_MAIN, needsRoot, REPO_ROOT, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { PtySession, SCRIPT } from '../helpers/pty';
import type { CommandResult } from '../helpers/cli';
import { waitFor } from '../helpers/wait';

const skip = needsRoot('needs root (runc, overlay mounts)');

/** The pids of the warm CLI processes (src/cli/spare) serving `socketPath`. */
function sparesOf(socketPath: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.endsWith('spare.js')) && argv.includes(socketPath)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** The pids whose command line (a spare's title once it serves a command) is `title`. */
function processesTitled(title: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() === title) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/**
 * The berth command through its native launcher (bin/berth → build/Release/berth-cli) and
 * the warm spares it hands commands to, on a socket of this test's own (BERTH_CLI_SOCKET).
 */
describe('the berth CLI through warm spare processes', { skip }, () => {
  let daemon: TestDaemon;
  let tmp: string;
  let socketPath: string;

  /** `group: 'orphaned'` runs the command in a session of its own, where the kernel discards stop signals. */
  function berth(args: string[], options: { input?: string | Buffer; cwd?: string; env?: NodeJS.ProcessEnv; group?: 'orphaned' } = {}): { done: Promise<CommandResult & { signal: NodeJS.Signals | null }>; pid: number } {
    const [file, argv] = options.group === 'orphaned' ? ['setsid', [CLI_MAIN, ...args]] : [CLI_MAIN, args];
    const child = spawn(file, argv, { cwd: options.cwd ?? tmp, env: { ...process.env, BERTH_HOST: daemon.host, BERTH_CLI_SOCKET: socketPath, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
    const done = new Promise<CommandResult & { signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => {
        const bytes = Buffer.concat(out);
        resolve({ stdout: bytes.toString(), stdoutBytes: bytes, stderr: Buffer.concat(err).toString(), code: code ?? -1, signal });
      });
    });
    return { done, pid: child.pid! };
  }
  const run = (args: string[], options: { input?: string | Buffer; cwd?: string } = {}) => berth(args, options).done;
  const ok = async (args: string[], options: { input?: string | Buffer; cwd?: string } = {}) => {
    const r = await run(args, options);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  /** Two spares wait (the pool), ready to take a command. */
  const poolReady = () => waitFor(() => sparesOf(socketPath).length >= 2, 30_000, 'two spares waiting');

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
    tmp = await fs.mkdtemp(path.join(daemon.root, 'spare-'));
    socketPath = path.join(tmp, 'run', 'cli.sock');
  });
  after(async () => {
    // Removing the socket file ends the spares (they check it while they wait).
    await fs.rm(path.join(tmp, 'run'), { recursive: true, force: true });
    if (socketPath) await waitFor(() => sparesOf(socketPath).length === 0, 30_000, 'spares gone once their socket is removed').catch(() => undefined);
    await daemon?.stop();
  });

  it('the first command runs on plain Node and starts the spares; the next one runs in a spare', async () => {
    assert.deepEqual(sparesOf(socketPath), []);
    assert.equal((await ok(['version', '--format', '{{.Server.Version}}'])).stdout.trim().length > 0, true);
    await poolReady();
    assert.equal(existsSync(socketPath), true);
    assert.equal((await fs.stat(path.dirname(socketPath))).mode & 0o777, 0o700);
    const before = sparesOf(socketPath);
    const r = await ok(['ps', '--format', '{{.Names}}']);
    assert.equal(r.stdout, '');
    // one spare took the command and is gone; its successor replaced it
    await waitFor(() => sparesOf(socketPath).filter((pid) => before.includes(pid)).length === before.length - 1, 10_000, 'the used spare to exit');
  });

  it('passes stdout, stderr and the exit status back', async () => {
    await poolReady();
    const r = await run(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [3, 'out\n', 'err\n']);
    await poolReady();
    const usage = await run(['ps', '--no-such-flag']);
    assert.equal(usage.code, 125);
    assert.match(usage.stderr, /unknown flag: --no-such-flag/);
  });

  it("lets go of the caller's stdout before it reports the status, so a reader of the output is not kept waiting", async () => {
    await poolReady();
    const title = 'berth run --rm --network none busybox sh -c sleep 1; echo done';
    const child = spawn(CLI_MAIN, ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'sleep 1; echo done'], {
      cwd: tmp,
      env: { ...process.env, BERTH_HOST: daemon.host, BERTH_CLI_SOCKET: socketPath },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.resume();
    const closed = new Promise((resolve) => child.on('close', resolve));
    let serving: number[] = [];
    await waitFor(() => (serving = processesTitled(title)).length === 1, 20_000, 'a spare to run the command');
    // the caller's stdout as /proc shows it ("socket:[inode]"), from the launcher's side
    const pipe = readlinkSync(`/proc/${child.pid}/fd/1`);
    assert.equal(readlinkSync(`/proc/${serving[0]}/fd/1`), pipe, 'the spare writes to the caller\'s stdout');
    // Checked the moment the launcher has exited: the spare may still be starting its successor
    // or tearing Node down, and must no longer hold the pipe (a $(berth ...) would wait for it).
    const holders = await new Promise<string[]>((resolve) =>
      child.on('exit', () => {
        const fds = (() => {
          try {
            return readdirSync(`/proc/${serving[0]}/fd`);
          } catch {
            return []; // already gone: nothing holds anything
          }
        })();
        resolve(fds.filter((fd) => {
          try {
            return readlinkSync(`/proc/${serving[0]}/fd/${fd}`) === pipe;
          } catch {
            return false;
          }
        }));
      }),
    );
    assert.deepEqual(holders, [], `the spare still held the caller's stdout (${pipe}) after the launcher exited`);
    await closed;
    assert.equal(out, 'done\n');
  });

  it("uses the caller's working directory, environment and stdin", async () => {
    const work = await fs.mkdtemp(path.join(tmp, 'cwd-'));
    await poolReady();
    await ok(['save', '-o', 'busybox.tar', 'busybox'], { cwd: work });
    const archive = await fs.readFile(path.join(work, 'busybox.tar'));
    assert.ok(archive.length > 100_000, 'save -o wrote the archive in the caller\'s cwd');
    await poolReady();
    // BERTH_HOST reaches the daemon only through the caller's environment (no -H)
    const loaded = await ok(['load'], { input: archive });
    assert.match(loaded.stdout, /Loaded image: busybox:latest/);
    await poolReady();
    assert.equal((await ok(['run', '--rm', '--network', 'none', '-e', 'GREETING', 'busybox', 'sh', '-c', 'echo $GREETING'], {})).stdout, '\n');
    const withEnv = await berth(['run', '--rm', '--network', 'none', '-e', 'GREETING', 'busybox', 'sh', '-c', 'echo $GREETING'], { env: { GREETING: 'hello' } }).done;
    assert.equal(withEnv.stdout, 'hello\n');
  });

  it('runs an interactive command (-i) on plain Node, with its stdin', async () => {
    await poolReady();
    const before = sparesOf(socketPath);
    const r = await ok(['run', '-i', '--rm', '--network', 'none', 'busybox', 'cat'], { input: 'typed\n' });
    assert.equal(r.stdout, 'typed\n');
    assert.deepEqual(sparesOf(socketPath).sort(), before.sort(), 'no spare was used');
  });

  it('forwards signals to the command and ends by one; a Ctrl-Z the kernel discards leaves the spare running', async () => {
    await ok(['run', '-d', '--name', 'talker', '--network', 'none', 'busybox', 'sh', '-c', 'while true; do echo tick; sleep 0.2; done']);
    await poolReady();
    // In a session of its own the launcher's process group is orphaned: the kernel discards
    // SIGTSTP there, and the spare it stopped on the way must run on with it.
    const logs = berth(['logs', '-f', 'talker'], { group: 'orphaned' });
    // a spare serving a command shows it as its title
    let serving: number[] = [];
    await waitFor(() => (serving = processesTitled('berth logs -f talker')).length === 1, 20_000, 'a spare to run logs -f');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const state = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];
    process.kill(logs.pid, 'SIGTSTP');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.notEqual(state(serving[0]!), 'T', 'the spare was left stopped');
    assert.notEqual(state(logs.pid), 'T');
    process.kill(logs.pid, 'SIGTERM');
    const r = await logs.done;
    assert.equal(r.signal, 'SIGTERM');
    assert.match(r.stdout, /tick/);
    await waitFor(() => !existsSync(`/proc/${serving[0]}`), 10_000, 'the spare running logs -f to end');
    // it was replaced: the pool is whole again
    await poolReady();
    await ok(['rm', '-f', 'talker']);
  });

  it("Ctrl-Z in an interactive shell stops the command with its spare; fg and bg resume both", { skip: SCRIPT ? false : 'needs util-linux script' }, async () => {
    await poolReady();
    // A real terminal with a job-control shell: the launcher is a job of bash (not orphaned),
    // Ctrl-Z is the terminal's, fg/bg are bash's.
    const shell = new PtySession('bash --norc --noprofile -i', { BERTH_HOST: daemon.host, BERTH_CLI_SOCKET: socketPath, HISTFILE: '/dev/null' }, { rows: 50, cols: 200 });
    const state = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];
    // the container's lines (with bg, one may follow bash's prompt on its line)
    const ticks = (text: string) => (text.match(/tick\d+(?=\r?\n)/g) ?? []).join(' ');
    try {
      await shell.waitFor(/[$#] $/);
      for (const resume of ['fg', 'bg'] as const) {
        const from = shell.output.length;
        const title = `berth run --rm --network none busybox sh -c for i in $(seq 12); do echo tick$i; sleep 0.25; done`;
        shell.write(`${CLI_MAIN} run --rm --network none busybox sh -c 'for i in $(seq 12); do echo tick$i; sleep 0.25; done'\n`);
        await shell.waitFor(/tick2\r?\n/, 30_000, from);
        const [spare] = processesTitled(title);
        const [launcher] = processesTitled(`${path.join(REPO_ROOT, 'build', 'Release', 'berth-cli')} ${title.replace(/^berth /, '')}`);
        assert.ok(spare && launcher, `the spare (${spare}) and the launcher (${launcher}) running the command`);
        shell.write('\x1a');
        await shell.waitFor(/Stopped/, 10_000, from);
        await waitFor(() => state(launcher) === 'T' && state(spare) === 'T', 10_000, 'the launcher and its spare stopped');
        // stopped, and staying so: no output meanwhile
        const seen = ticks(shell.output.slice(from));
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        assert.equal(ticks(shell.output.slice(from)), seen, 'output went on while the job was stopped');
        assert.deepEqual([state(launcher), state(spare)], ['T', 'T'], 'both still stopped');
        shell.write(`${resume}\n`);
        await shell.waitFor(/tick12\r?\n/, 30_000, from);
        const expected = Array.from({ length: 12 }, (_, i) => `tick${i + 1}`).join(' ');
        assert.equal(ticks(shell.output.slice(from)), expected, `every line once, in order; the terminal showed ${JSON.stringify(shell.output.slice(from))}`);
        const end = shell.output.length;
        // the job ended with the command's status
        shell.write(resume === 'fg' ? 'echo status=$?\n' : 'wait %1; echo status=$?\n');
        await shell.waitFor(/status=0/, 15_000, end);
        await waitFor(() => !existsSync(`/proc/${spare}`) && !existsSync(`/proc/${launcher}`), 10_000, 'the spare and the launcher to end');
        await poolReady();
      }
    } finally {
      shell.kill();
    }
  });

  it('a Ctrl-Z before the spare has said its pid waits for it, then stops both', { skip: SCRIPT ? false : 'needs util-linux script' }, async () => {
    // A stand-in spare the test answers by hand, so the Ctrl-Z lands in that window for sure;
    // the "spare" it names is a sleep.
    const fakeSocket = path.join(tmp, 'fake-spare.sock');
    const sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
    let connection: import('node:net').Socket | undefined;
    const server = (await import('node:net')).createServer((c) => {
      connection = c;
      c.on('error', () => undefined);
      c.resume();
    });
    await new Promise<void>((resolve) => server.listen(fakeSocket, resolve));
    // -H and BERTH_HOST: should the launcher fall back to plain Node, it reaches the test daemon, never the default socket (where root would autostart berthd)
    const shell = new PtySession('bash --norc --noprofile -i', { BERTH_HOST: daemon.host, BERTH_CLI_SOCKET: fakeSocket, HISTFILE: '/dev/null' }, { rows: 50, cols: 200 });
    const state = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];
    const marker = `ctrl-z-window-${process.pid}`;
    try {
      await shell.waitFor(/[$#] $/);
      shell.write(`${CLI_MAIN} -H ${daemon.host} ps --filter name=${marker}\n`);
      await waitFor(() => connection !== undefined, 20_000, 'the launcher to hand its command over');
      const [launcher] = processesTitled(`${path.join(REPO_ROOT, 'build', 'Release', 'berth-cli')} -H ${daemon.host} ps --filter name=${marker}`);
      assert.ok(launcher, 'the launcher waiting for the spare');
      shell.write('\x1a');
      // held, not acted on: stopping now would leave the spare it is about to learn of running
      await waitFor(() => /^SigPnd:\s*0*80000$|^ShdPnd:\s*0*80000$/m.test(readFileSync(`/proc/${launcher}/status`, 'utf8')), 10_000, 'the Ctrl-Z to be pending');
      assert.equal(state(launcher), 'S');
      const pid = Buffer.alloc(5);
      pid.write('P');
      pid.writeUInt32LE(sleeper.pid!, 1);
      connection!.write(pid);
      await waitFor(() => state(launcher) === 'T' && state(sleeper.pid!) === 'T', 10_000, 'the launcher and its spare stopped');
      await shell.waitFor(/Stopped/, 10_000);
      shell.write('fg\n');
      await waitFor(() => state(launcher) !== 'T' && state(sleeper.pid!) !== 'T', 10_000, 'both to go on after fg');
      const status = Buffer.alloc(5);
      status.write('X');
      status.writeInt32LE(0, 1);
      connection!.write(status);
      const from = shell.output.length;
      shell.write('echo status=$?\n');
      await shell.waitFor(/status=0/, 10_000, from);
    } finally {
      shell.kill();
      sleeper.kill('SIGKILL');
      connection?.destroy();
      server.close();
    }
  });

  it('the spares end once their socket file is removed', async () => {
    await poolReady();
    await fs.rm(path.dirname(socketPath), { recursive: true, force: true });
    await waitFor(() => sparesOf(socketPath).length === 0, 30_000, 'every spare to exit');
  });
});
