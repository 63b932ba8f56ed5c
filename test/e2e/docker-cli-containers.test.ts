import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { docker, DOCKER_CLIENTS, runCommand } from '../helpers/cli';
import { waitFor } from '../helpers/wait';

const skip = needsRoot('needs root (runc, overlay mounts)') || (DOCKER_CLIENTS.length === 0 ? 'no docker CLI installed' : false);

describe('the real docker CLI against berthd: containers', { skip }, () => {
  let daemon: TestDaemon;
  const client = DOCKER_CLIENTS[0]!;
  const run = (args: string[], input?: string) => docker(client, daemon.host, args, { input });

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('runs a command and prints its output (run --rm)', async () => {
    for (const c of DOCKER_CLIENTS) {
      const result = await docker(c, daemon.host, ['run', '--rm', 'busybox', 'echo', 'hello']);
      assert.equal(result.stderr, '');
      assert.equal(result.stdout, 'hello\n');
      assert.equal(result.code, 0);
    }
    const left = await run(['ps', '-aq']);
    assert.equal(left.stdout, '', 'the --rm container is gone');
  });

  it('passes the exit code and stderr back', async () => {
    const result = await run(['run', '--rm', 'busybox', 'sh', '-c', 'echo oops >&2; exit 3']);
    assert.equal(result.code, 3);
    assert.equal(result.stderr, 'oops\n');
  });

  it('feeds stdin with -i', async () => {
    const result = await run(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'tr a-z A-Z'], 'shout\n');
    assert.equal(result.stdout, 'SHOUT\n');
  });

  it('runs detached with name, env, workdir, user and hostname; logs, inspect, exec, top, stop', async () => {
    const created = await run([
      'run', '-d', '--name', 'web', '-e', 'KEY=VALUE', '-w', '/srv', '-u', '1000:1000', '--hostname', 'h',
      'busybox', 'sh', '-c', 'echo "key=$KEY"; id -u; pwd; hostname; trap "echo bye; exit 0" TERM; while true; do sleep 0.1; done',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.trim();
    assert.match(id, /^[a-f0-9]{64}$/);

    await waitFor(async () => (await run(['logs', 'web'])).stdout.includes('h\n'));
    const logs = await run(['logs', 'web']);
    assert.equal(logs.stdout, 'key=VALUE\n1000\n/srv\nh\n');

    const ps = await run(['ps', '--format', '{{.Names}} {{.Status}}']);
    assert.match(ps.stdout, /^web Up /m);

    const inspect = JSON.parse((await run(['inspect', 'web'])).stdout) as Array<{ State: { Running: boolean; Pid: number }; Config: { Env: string[]; User: string }; Name: string }>;
    assert.equal(inspect[0]!.Name, '/web');
    assert.equal(inspect[0]!.State.Running, true);
    assert.ok(inspect[0]!.Config.Env.includes('KEY=VALUE'));

    const exec = await run(['exec', '-e', 'X=1', '-w', '/tmp', 'web', 'sh', '-c', 'echo $X $KEY; pwd; id -u']);
    assert.equal(exec.stdout, '1 VALUE\n/tmp\n1000\n');
    const execRoot = await run(['exec', '-u', '0', 'web', 'id', '-u']);
    assert.equal(execRoot.stdout, '0\n');
    const execFail = await run(['exec', 'web', 'sh', '-c', 'exit 4']);
    assert.equal(execFail.code, 4);

    const top = await run(['top', 'web']);
    assert.match(top.stdout, /PID/);
    assert.match(top.stdout, /while true/);

    const started = Date.now();
    const stop = await run(['stop', 'web']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(Date.now() - started < 5000, 'the TERM trap ends it quickly');
    const exited = JSON.parse((await run(['inspect', 'web'])).stdout) as Array<{ State: { Status: string; ExitCode: number } }>;
    assert.equal(exited[0]!.State.Status, 'exited');
    assert.equal(exited[0]!.State.ExitCode, 0);
    assert.match((await run(['logs', 'web'])).stdout, /bye/);
    assert.equal((await run(['rm', 'web'])).code, 0);
  });

  it('kills with SIGKILL after the stop timeout', async () => {
    await run(['run', '-d', '--name', 'stubborn', 'busybox', 'sh', '-c', 'trap "" TERM; while true; do sleep 0.1; done']);
    const started = Date.now();
    await run(['stop', '-t', '1', 'stubborn']);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 900 && elapsed < 6000, `stop took ${elapsed} ms`);
    const state = JSON.parse((await run(['inspect', 'stubborn'])).stdout) as Array<{ State: { ExitCode: number } }>;
    assert.equal(state[0]!.State.ExitCode, 137);
    await run(['rm', 'stubborn']);
  });

  it('isolates the container: pid 1, own hostname, loopback only, Docker default capabilities, masked /proc', async () => {
    const result = await run([
      'run', '--rm', '--network', 'none', 'busybox', 'sh', '-c',
      'echo pid=$$; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "; grep CapEff /proc/self/status; cat /proc/keys | wc -c; mount | grep " / " | cut -d" " -f5',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines[0], 'pid=1');
    assert.equal(lines[1], 'lo');
    assert.equal(lines[2], 'CapEff:\t00000000a80425fb');
    assert.equal(lines[3], '0');
    assert.equal(lines[4], 'overlay');
  });

  it('gives Docker-shaped errors', async () => {
    const missingImage = await run(['create', 'nosuchimage:1']);
    assert.notEqual(missingImage.code, 0);
    assert.match(missingImage.stderr, /nosuchimage/);
    const missing = await run(['inspect', '--type', 'container', 'nosuchcontainer']);
    assert.match(missing.stderr, /No such container: nosuchcontainer/);
    const badCommand = await run(['run', '--rm', 'busybox', 'nosuchcmd']);
    assert.equal(badCommand.code, 127);
    assert.match(badCommand.stderr, /executable file not found in \$PATH/);
    await run(['run', '-d', '--name', 'dup', 'busybox', 'sleep', '30']);
    const duplicate = await run(['run', '-d', '--name', 'dup', 'busybox', 'true']);
    assert.match(duplicate.stderr, /Conflict. The container name "\/dup" is already in use/);
    const rmRunning = await run(['rm', 'dup']);
    assert.match(rmRunning.stderr, /You cannot remove a running container/);
    const badSignal = await run(['kill', '-s', 'NOPE', 'dup']);
    assert.match(badSignal.stderr, /Invalid signal: NOPE/);
    assert.equal((await run(['rm', '-f', 'dup'])).code, 0);
  });

  it('copies files both ways, shows the diff, commits and exports', async () => {
    const tmp = await fs.mkdtemp(path.join(daemon.root, 'cp-'));
    await fs.writeFile(path.join(tmp, 'in.txt'), 'from host\n');
    await run(['create', '--name', 'files', 'busybox', 'cat', '/data/in.txt']);
    assert.equal((await run(['start', 'files'])).code, 0);
    await run(['wait', 'files']);
    const cpIn = await run(['cp', path.join(tmp, 'in.txt'), 'files:/tmp/']);
    assert.equal(cpIn.code, 0, cpIn.stderr);
    const cpOut = await run(['cp', 'files:/etc/passwd', path.join(tmp, 'passwd')]);
    assert.equal(cpOut.code, 0, cpOut.stderr);
    assert.match(await fs.readFile(path.join(tmp, 'passwd'), 'utf8'), /^root:/);
    const diff = await run(['diff', 'files']);
    assert.match(diff.stdout, /^A \/tmp\/in.txt$/m);
    assert.match(diff.stdout, /^C \/tmp$/m);

    const commit = await run(['commit', '-c', 'CMD ["cat","/tmp/in.txt"]', 'files', 'committed:1']);
    assert.equal(commit.code, 0, commit.stderr);
    const fromCommit = await run(['run', '--rm', 'committed:1']);
    assert.equal(fromCommit.stdout, 'from host\n');

    const exported = await run(['export', '-o', path.join(tmp, 'files.tar'), 'files']);
    assert.equal(exported.code, 0, exported.stderr);
    const listing = await runCommand('tar', ['-tf', path.join(tmp, 'files.tar')]);
    assert.match(listing.stdout, /^tmp\/in.txt$/m);
    assert.match(listing.stdout, /^bin\/busybox$/m);
    await run(['rm', 'files']);
    await run(['rmi', 'committed:1']);
  });

  it('reports container events (docker events --since/--until --filter)', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await run(['run', '--rm', '--name', 'evented', 'busybox', 'true']);
    const until = Math.ceil(Date.now() / 1000) + 1;
    const events = await run(['events', '--since', String(since), '--until', String(until), '--filter', 'container=evented', '--format', '{{.Type}} {{.Action}}']);
    assert.equal(events.code, 0, events.stderr);
    const actions = events.stdout.trim().split('\n');
    for (const action of ['container create', 'container start', 'container die', 'container destroy']) {
      assert.ok(actions.includes(action), `${action} in ${JSON.stringify(actions)}`);
    }
    assert.ok(actions.indexOf('container create') < actions.indexOf('container start'));
    assert.ok(actions.indexOf('container die') < actions.indexOf('container destroy'));
  });

  it('pauses, unpauses, renames and restarts', async () => {
    await run(['run', '-d', '--name', 'p1', 'busybox', 'sh', '-c', 'while true; do date +%s; sleep 0.2; done']);
    assert.equal((await run(['pause', 'p1'])).code, 0);
    assert.match((await run(['ps', '--filter', 'name=p1', '--format', '{{.Status}}'])).stdout, /Paused/);
    assert.equal((await run(['unpause', 'p1'])).code, 0);
    assert.equal((await run(['rename', 'p1', 'p2'])).code, 0);
    const before = JSON.parse((await run(['inspect', 'p2'])).stdout) as Array<{ State: { Pid: number } }>;
    assert.equal((await run(['restart', '-t', '1', 'p2'])).code, 0);
    const restarted = JSON.parse((await run(['inspect', 'p2'])).stdout) as Array<{ State: { Pid: number; Running: boolean } }>;
    assert.equal(restarted[0]!.State.Running, true);
    assert.notEqual(restarted[0]!.State.Pid, before[0]!.State.Pid);
    assert.equal((await run(['rm', '-f', 'p2'])).code, 0);
  });
});
