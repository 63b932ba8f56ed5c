import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { berth, docker, DOCKER_CLIENTS } from '../helpers/cli';

const skip = needsRoot('needs root (runc, overlay mounts)') || (DOCKER_CLIENTS.length === 0 ? 'no docker CLI installed' : false);

/** The docker CLIs (28 and 20.10) and berth's against berthd: exec streams, log drivers. */
describe('the real docker CLI against berthd: streams', { skip }, () => {
  let daemon: TestDaemon;

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('exec of a missing command: dockerd\'s message in the stream and exit code 126', async () => {
    const client = DOCKER_CLIENTS[0]!;
    assert.equal((await docker(client, daemon.host, ['run', '-d', '--name', 'exec-host', 'busybox', 'sleep', '1000'])).code, 0);
    for (const c of DOCKER_CLIENTS) {
      for (const tty of [[], ['-t']]) {
        const result = await docker(c, daemon.host, ['exec', ...tty, 'exec-host', 'nosuchcmd']);
        assert.equal(result.code, 126, `${c} ${tty.join('')}: ${result.stderr}`);
        assert.match(result.stdout, /^OCI runtime exec failed: .*exec: "nosuchcmd": executable file not found in \$PATH: unknown\r?\n/);
      }
      const ok = await docker(c, daemon.host, ['exec', 'exec-host', 'echo', 'still', 'fine']);
      assert.equal(ok.stdout, 'still fine\n');
      assert.equal(ok.code, 0);
    }
    await docker(client, daemon.host, ['rm', '-f', 'exec-host']);
  });

  it('log drivers: json-file by default, local and json-file with rotation; logs reads both', async () => {
    const client = DOCKER_CLIENTS[0]!;
    const info = await docker(client, daemon.host, ['info', '--format', '{{.LoggingDriver}}']);
    assert.equal(info.stdout.trim(), 'json-file');
    const cases: Array<{ name: string; flags: string[]; logConfig: string }> = [
      { name: 'log-default', flags: [], logConfig: '{"Type":"json-file","Config":{}}' },
      { name: 'log-json', flags: ['--log-driver', 'json-file', '--log-opt', 'max-size=10m', '--log-opt', 'max-file=2'], logConfig: '{"Type":"json-file","Config":{"max-file":"2","max-size":"10m"}}' },
      { name: 'log-local', flags: ['--log-driver', 'local'], logConfig: '{"Type":"local","Config":{}}' },
    ];
    for (const { name, flags, logConfig } of cases) {
      const run = await docker(client, daemon.host, ['run', '--name', name, ...flags, 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
      assert.equal(run.code, 0, run.stderr);
      const inspected = await docker(client, daemon.host, ['inspect', '--format', '{{json .HostConfig.LogConfig}}', name]);
      assert.equal(inspected.stdout.trim(), logConfig);
      for (const c of DOCKER_CLIENTS) {
        const logs = await docker(c, daemon.host, ['logs', name]);
        assert.deepEqual([logs.code, logs.stdout, logs.stderr], [0, 'out\n', 'err\n'], `${c} logs ${name}`);
      }
      const berthLogs = await berth(daemon.host, ['logs', name]);
      assert.deepEqual([berthLogs.code, berthLogs.stdout, berthLogs.stderr], [0, 'out\n', 'err\n'], `berth logs ${name}`);
      await docker(client, daemon.host, ['rm', name]);
    }
  });

  it('--log-opt max-size/max-file rotate: logs shows only what the kept files hold', async () => {
    for (const [cli, run] of [
      ['docker', (args: string[]) => docker(DOCKER_CLIENTS[0]!, daemon.host, args)],
      ['berth', (args: string[]) => berth(daemon.host, args)],
    ] as const) {
      for (const driver of ['json-file', 'local']) {
        const name = `rot-${cli}-${driver}`;
        // 200 lines of 100 bytes, paced so the monitor writes them as separate records: 20 kB through 2 files of 2 kB.
        const made = await run(['run', '--name', name, '--log-driver', driver, '--log-opt', 'max-size=2k', '--log-opt', 'max-file=2', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 200 ]; do i=$((i+1)); printf "%099d\\n" $i; [ $((i % 20)) = 0 ] && sleep 0.01; done']);
        assert.equal(made.code, 0, made.stderr);
        const logs = await run(['logs', name]);
        assert.equal(logs.code, 0, logs.stderr);
        const lines = logs.stdout.split('\n').filter((l) => l !== '');
        assert.ok(lines.length > 0 && lines.length < 100, `${name}: ${lines.length} lines kept`);
        assert.equal(Number(lines[lines.length - 1]), 200, `${name} keeps the newest line`);
        for (let i = 1; i < lines.length; i++) assert.equal(Number(lines[i]), Number(lines[i - 1]) + 1, `${name}: lines in order, none lost inside the kept files`);
        await run(['rm', name]);
      }
    }
    // No driver given: json-file's semantics, which keep everything unless told to rotate.
    const client = DOCKER_CLIENTS[0]!;
    const made = await docker(client, daemon.host, ['run', '--name', 'rot-default', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 200 ]; do i=$((i+1)); printf "%099d\\n" $i; done']);
    assert.equal(made.code, 0, made.stderr);
    const logs = await docker(client, daemon.host, ['logs', 'rot-default']);
    assert.equal(logs.stdout.split('\n').filter((l) => l !== '').length, 200);
    await docker(client, daemon.host, ['rm', 'rot-default']);
  });

  it('log driver none: logs answers dockerd\'s error; an unknown driver is refused at create', async () => {
    for (const c of DOCKER_CLIENTS) {
      const made = await docker(c, daemon.host, ['run', '--name', 'log-none', '--log-driver', 'none', 'busybox', 'echo', 'hi']);
      assert.equal(made.stdout, 'hi\n', 'attach still shows the output');
      const logs = await docker(c, daemon.host, ['logs', 'log-none']);
      assert.equal(logs.code, 1);
      assert.match(logs.stderr, /Error response from daemon: configured logging driver does not support reading/);
      const logPath = await docker(c, daemon.host, ['inspect', '--format', '[{{.LogPath}}]', 'log-none']);
      assert.equal(logPath.stdout.trim(), '[]');
      await docker(c, daemon.host, ['rm', 'log-none']);
      const unknown = await docker(c, daemon.host, ['run', '--log-driver', 'nosuchdriver', 'busybox']);
      assert.equal(unknown.code, 125);
      assert.match(unknown.stderr, /Error response from daemon: error looking up logging plugin nosuchdriver: plugin "nosuchdriver" not found/);
    }
    const berthNone = await berth(daemon.host, ['run', '--name', 'berth-none', '--log-driver', 'none', 'busybox', 'echo', 'hi']);
    assert.equal(berthNone.stdout, 'hi\n');
    const berthLogs = await berth(daemon.host, ['logs', 'berth-none']);
    assert.notEqual(berthLogs.code, 0);
    assert.match(berthLogs.stderr, /configured logging driver does not support reading/);
    const badOpts = await berth(daemon.host, ['create', '--log-driver', 'none', '--log-opt', 'max-size=1k', 'busybox']);
    assert.equal(badOpts.code, 125);
    assert.match(badOpts.stderr, /invalid logging opts for driver none/);
  });
});
