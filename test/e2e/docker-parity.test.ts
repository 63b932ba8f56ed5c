import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { docker, DOCKER_CLIENTS, runCommand } from '../helpers/cli';
import { type PrivateDockerd, privateDockerdSkipReason, startPrivateDockerd } from '../helpers/private-dockerd';
import { legacyArchive } from '../helpers/legacy-archive';
import { DEFAULT_RUNTIME_NAME } from '../helpers/runtime';
import { describeDifference, type Difference, type IntendedDifference, judge, Normaliser, ParityCase, type Side } from '../helpers/parity';

/**
 * docker vs berth: the same docker CLI commands (and a few raw API requests and docker-py
 * calls) against a private dockerd and a berthd, both holding the same busybox image; the
 * answers are normalised (IDs, times, data roots) and compared. Any difference must be listed
 * in INTENDED_DIFFERENCES with its reason, and every entry there must still match a
 * difference: a fix that lands makes its entry stale, and this test says so.
 *
 * BERTH_PARITY_DOCKER_CLI picks another client binary. The CLI is pinned to API 1.41, the private dockerd's (20.10) highest, so both daemons get
 * the same requests; what berth does on newer versions (volume prune on 1.42+, ...) is tested
 * against berth alone (test/e2e/docker-cli-fidelity.test.ts).
 */

/** The newest docker CLI here (28 where installed, else Debian's 20.10, as in CI): both daemons see the same one. */
const CLIENT = process.env.BERTH_PARITY_DOCKER_CLI ?? DOCKER_CLIENTS[0] ?? 'docker';
const API_VERSION = '1.41';

function clientMajor(): number {
  try {
    return parseInt(/version (\d+)/.exec(execFileSync(CLIENT, ['--version'], { encoding: 'utf8' }))?.[1] ?? '0', 10);
  } catch {
    return 0;
  }
}
const skip = needsRoot('needs root (runc, overlay mounts)') || (privateDockerdSkipReason() ?? false);

/**
 * Every difference berth keeps on purpose (or, with the reason "fixed by a parallel change,
 * pending", until a fix being made lands: its entry then goes stale and must go).
 */
const INTENDED_DIFFERENCES: IntendedDifference[] = [
  // -- what berth is (storage, logs, networking, registries) --------------------------------
  {
    key: /› \[0\]\.GraphDriver\.Data\.(LowerDir|MergedDir|UpperDir|WorkDir)$/,
    reason: "storage layout: berth's snapshots live under snapshots/<short id>/{fs,work} with no -init layer, and a container's mount under rootfs/<id>/merged; the keys are dockerd's",
  },
  {
    key: /› \[0\]\.LogPath$/,
    reason: "berth logs to containers/<id>/container.log in its own indexed record format (not <id>-json.log), named from create on; read logs through the API",
  },
  {
    key: /^(8 container inspect › inspect created › \[0\]\.(HostnamePath|HostsPath|ResolvConfPath)|14 archive of a never-started container › inspect paths › stdout)$/,
    reason: 'berth writes the managed /etc files at create (issue 6 item 14), so their paths are set from create on; dockerd fills them at the first start',
  },
  {
    key: /› \[0\]\.NetworkSettings\.(SandboxID|SandboxKey)$/,
    reason: "no network sandbox yet: berth names a running container's network namespace by its process (/proc/<pid>/ns/net)",
  },
  {
    key: 'detached container: ps, logs, exec, inspect, stop, rm › inspect › [0].Config.NetworkDisabled',
    reason: 'the private dockerd runs with --bridge none, which marks containers on the default network NetworkDisabled; berth gives them a private loopback network',
  },
  {
    key: /^16 routes berth lacks: swarm, networks, plugins, unknown paths › (network ls › stdout|GET \/networks › body)$/,
    reason: "the built-in networks' IDs are each daemon's own random ones, and dockerd lists networks in its Go map's random order",
  },
  {
    key: /^16 routes berth lacks: swarm, networks, plugins, unknown paths › (plugin ls|GET \/plugins) › /,
    reason: 'no plugin API yet: berth answers 501 naming the feature (issue 6 item 16) where dockerd lists its (no) plugins',
  },
  {
    key: 'run: output, exit codes, stdin, env, user, workdir, hostname › missing image › stderr',
    reason: 'no registry client yet: berth answers the pull with its 501 naming what to do, dockerd fails to reach the registry',
  },
  ...(DEFAULT_RUNTIME_NAME === 'crun'
    ? [{ key: /› \[0\]\.HostConfig\.Runtime$/, reason: "berth runs crun where it is installed (dockerd's default is runc), and names the runtime that runs the container" }]
    : []),
  {
    key: /› \[0\]\.HostConfig\.MaskedPaths$/,
    reason: "berth masks /sys/devices/virtual/powercap too, as moby's newer defaults do (CVE-2020-8694); dockerd 20.10 does not",
  },
  // The docker CLI 20.10 prints its own "Error: No such image" for both; 28 shows the daemon's text.
  ...(clientMajor() >= 23
    ? [
        {
          key: 'cp both ways, diff, history, images › image inspect missing › stderr',
          reason: 'dockerd 20.10 wraps the message twice ("no such image: x: No such image: x:latest"); berth gives the plain "No such image: x"',
        },
      ]
    : []),
  {
    key: '7 a pre-1.10 save tar › load › stdout',
    reason: 'dockerd 20.10 prints nothing when it loads a legacy archive; berth reports "Loaded image: <repo>:<tag>" as for any other archive (dockerode tests read it)',
  },
  {
    key: /^(cp both ways, diff, history, images › cp out|14 archive of a never-started container › cp \/etc\/(resolv\.conf|hosts|hostname)) › stdout$/,
    reason: "berth's tars name owners by number only; Go's archive/tar adds the daemon host's user and group names (root/root). Extraction goes by number either way",
  },
  {
    key: 'run: output, exit codes, stdin, env, user, workdir, hostname › missing command › stderr',
    reason:
      "dockerd's message starts with containerd's 'failed to create shim task:', plumbing berth does not have (it runs runc itself)",
  },
];

const PYTHON = '/usr/bin/python3';
const DOCKER_PY_SCRIPT = `
import sys, docker
client = docker.DockerClient(base_url=sys.argv[1], version='${API_VERSION}')
box = client.containers.run('busybox', 'sleep 60', detach=True)
outputs = [box.exec_run(['echo', 'hello']).output for _ in range(12)]
print('exec_run outputs other than hello:', sum(1 for o in outputs if o != b'hello\\n'))
box.remove(force=True)
print('containers.run returns:', client.containers.run('busybox', 'echo hello world', remove=True))
`;

describe('docker vs berth: the same docker CLI commands, the same answers', { skip }, () => {
  let dockerd: PrivateDockerd;
  let daemon: TestDaemon;
  let sides: { dockerd: Side; berth: Side };
  let normalisers: { dockerd: Normaliser; berth: Normaliser };
  let work: string;
  const differences: Difference[] = [];

  before(async () => {
    // Both without a default bridge: the private dockerd runs with --bridge none.
    [dockerd, daemon] = await Promise.all([startPrivateDockerd(), startTestDaemon({ args: ['--bridge', 'none'] })]);
    await bootstrapBusybox(daemon);
    const archive = await docker(CLIENT, daemon.host, ['save', 'busybox']);
    const loaded = await docker(CLIENT, dockerd.host, ['load'], { input: archive.stdoutBytes });
    assert.equal(loaded.code, 0, loaded.stderr);
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'parity-'));
    sides = {
      dockerd: { name: 'dockerd', host: dockerd.host, socket: dockerd.socket, roots: [dockerd.root] },
      berth: { name: 'berth', host: daemon.host, socket: daemon.socket, roots: [daemon.root] },
    };
    const shared = new Set<string>();
    normalisers = { dockerd: new Normaliser(sides.dockerd, shared), berth: new Normaliser(sides.berth, shared) };
    const id = (await docker(CLIENT, daemon.host, ['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim().replace(/^sha256:/, '');
    shared.add(id);
  });
  after(async () => {
    await Promise.all([dockerd?.stop(), daemon?.stop()]);
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  /** One comparison case: its differences must all be in the table. */
  const compare = (name: string, body: (c: ParityCase) => Promise<void>) =>
    it(name, async () => {
      const c = new ParityCase(name, CLIENT, sides, normalisers, API_VERSION);
      try {
        await body(c);
      } finally {
        differences.push(...c.differences);
      }
      const { unexplained } = judge(c.differences, INTENDED_DIFFERENCES);
      assert.equal(unexplained.length, 0, `differences not in INTENDED_DIFFERENCES:\n${unexplained.map(describeDifference).join('\n')}`);
    });

  const tarListing = async (bytes: Buffer) => (await runCommand('tar', ['tv'], { input: bytes })).stdout;

  // Cases run four at a time (each uses its own names); the ones that change an image both
  // daemons share (a tag on busybox shows in every inspect of it) run alone, after them.
  describe('side by side', { concurrency: 4 }, () => {
    // ---- everyday flows ------------------------------------------------------------------

    compare('run: output, exit codes, stdin, env, user, workdir, hostname', async (c) => {
      await c.step('echo', ['run', '--rm', 'busybox', 'echo', 'hello']);
      await c.step('stderr and exit 3', ['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
      await c.step('false', ['run', '--rm', 'busybox', 'false']);
      await c.step('stdin', ['run', '--rm', '-i', 'busybox', 'tr', 'a-z', 'A-Z'], { input: 'shout\n' });
      await c.step('env, user, workdir', ['run', '--rm', '-e', 'A=1', '-w', '/tmp', '-u', '1000', 'busybox', 'sh', '-c', 'echo $A; pwd; id']);
      await c.step('hostname', ['run', '--rm', '--hostname', 'h1', 'busybox', 'hostname']);
      await c.step('environment', ['run', '--rm', '--hostname', 'h2', 'busybox', 'env'], { sortLines: true });
      await c.step('/etc/hosts', ['run', '--rm', '--hostname', 'h3', 'busybox', 'cat', '/etc/hosts']);
      await c.step('/etc/resolv.conf', ['run', '--rm', 'busybox', 'cat', '/etc/resolv.conf']);
      await c.step('missing command', ['run', '--rm', 'busybox', 'no-such-command']);
      await c.step('missing image', ['run', '--rm', 'no-such-image:1']);
    });

    compare('detached container: ps, logs, exec, inspect, stop, rm', async (c) => {
      await c.setup(['run', '-d', '--name', 'web', 'busybox', 'sh', '-c', 'echo started; trap "echo bye; exit 0" TERM; while true; do sleep 0.1; done']);
      await c.step('ps', ['ps', '--filter', 'name=web', '--format', '{{.ID}}|{{.Image}}|{{.Command}}|{{.Status}}|{{.Ports}}|{{.Names}}']);
      await c.step('logs', ['logs', 'web']);
      await c.step('exec', ['exec', 'web', 'sh', '-c', 'echo $HOSTNAME; pwd']);
      await c.step('exec -u -w', ['exec', '-u', '1000', '-w', '/tmp', 'web', 'sh', '-c', 'id; pwd']);
      await c.step('exec exit code', ['exec', 'web', 'sh', '-c', 'exit 4']);
      await c.step('inspect state', ['inspect', '-f', '{{.State.Status}} {{.State.Running}} {{json .Config.Cmd}} {{.Config.Hostname}} {{.Name}}', 'web']);
      await c.step('inspect', ['inspect', 'web'], { json: true });
      await c.step('rm a running container', ['rm', 'web']);
      await c.step('stop', ['stop', '-t', '5', 'web']);
      await c.step('logs after stop', ['logs', 'web']);
      await c.step('inspect after stop', ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}', 'web']);
      await c.step('exec in a stopped container', ['exec', 'web', 'true']);
      await c.step('stop again', ['stop', 'web']);
      await c.step('rm', ['rm', 'web']);
      await c.step('rm missing', ['rm', 'web']);
      await c.step('inspect missing', ['inspect', 'web']);
      await c.step('logs missing', ['logs', 'web']);
    });

    compare('cp both ways, diff, history, images', async (c) => {
      const file = path.join(work, 'in.txt');
      await fs.writeFile(file, 'from the host\n');
      await c.setup(['create', '--name', 'files', 'busybox', 'true']);
      await c.step('cp in', ['cp', file, 'files:/tmp/in.txt']);
      await c.step('cp out', ['cp', 'files:/tmp/in.txt', '-'], { transform: tarListing });
      await c.step('cp out a missing path', ['cp', 'files:/nope', '-']);
      await c.step('diff', ['diff', 'files'], { sortLines: true });
      await c.setup(['rm', 'files']);
      await c.step('history', ['history', 'busybox']);
      await c.step('images', ['images', 'busybox', '--format', '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}']);
      await c.step('image inspect missing', ['image', 'inspect', 'no-such-image']);
    });

    // ---- the items of issue 6 ------------------------------------------------------------

    compare('1-2 docker-py: exec_run output and containers.run', async (c) => {
      if (!existsSync(PYTHON)) return;
      const run = (side: Side) => runCommand(PYTHON, ['-c', DOCKER_PY_SCRIPT, side.host], { timeoutMs: 120_000 });
      const [d, b] = await Promise.all([run(sides.dockerd), run(sides.berth)]);
      assert.equal(d.code, 0, d.stderr);
      if (d.stdout !== b.stdout || b.code !== 0) c.differences.push({ key: `${c.name} › docker-py`, dockerd: d.stdout, berth: `${b.stdout}${b.stderr}` });
    });

    compare('2 log drivers', async (c) => {
      await c.setup(['create', '--name', 'logdefault', 'busybox', 'true']);
      await c.step('default log driver', ['inspect', '-f', '{{json .HostConfig.LogConfig}}', 'logdefault']);
      await c.setup(['rm', 'logdefault']);
      await c.step('unknown driver', ['run', '--rm', '--log-driver', 'bogus', 'busybox', 'true']);
      await c.step('max-size', ['run', '--rm', '--log-driver', 'json-file', '--log-opt', 'max-size=1m', '--log-opt', 'max-file=2', 'busybox', 'echo', 'rotated']);
      await c.setup(['run', '--name', 'nolog', '--log-driver', 'none', 'busybox', 'echo', 'unlogged']);
      await c.step('logs of a none container', ['logs', 'nolog']);
      await c.setup(['rm', 'nolog']);
    });

    compare('3 commit right after exit', async (c) => {
      for (let i = 0; i < 2; i++) {
        await c.setup(['create', '--name', `quick${i}`, 'busybox', 'touch', '/test']);
        await c.setup(['start', `quick${i}`]);
        await c.step(`commit ${i}`, ['commit', `quick${i}`, `quick:${i}`], { codeOnly: true });
        await c.setup(['rm', '-f', `quick${i}`]);
      }
    });

    compare('4 image IDs and RepoDigests travel with save | load', async (c) => {
      await c.step('image id', ['image', 'inspect', '-f', '{{.Id}} {{json .RepoDigests}}', 'busybox']);
    });

    compare('5 image inspect', async (c) => {
      await c.step('image inspect', ['image', 'inspect', 'busybox'], { json: true });
    });

    compare('6 history after commit', async (c) => {
      await c.setup(['run', '--name', 'tocommit', 'busybox', 'sh', '-c', 'echo x > /committed']);
      await c.setup(['commit', 'tocommit', 'committed:1']);
      await c.step('history', ['history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}', 'committed:1']);
      await c.setup(['rm', 'tocommit']);
    });

    compare('7 a pre-1.10 save tar', async (c) => {
      const legacy = await legacyArchive({ repository: 'parity-legacy', tag: 'old' });
      await c.step('load', ['load'], { input: legacy.tar });
      await c.step('image inspect', ['image', 'inspect', 'parity-legacy:old'], { json: true });
      await c.step('history', ['history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}', 'parity-legacy:old']);
      await c.step('run', ['run', '--rm', 'parity-legacy:old']);
    });

    compare('8 container inspect', async (c) => {
      await c.setup(['create', '--name', 'insp', '-e', 'A=1', '--label', 'l=v', '-m', '64m', '--restart', 'on-failure:2', 'busybox', 'sleep', '5']);
      await c.step('inspect created', ['inspect', 'insp'], { json: true });
      await c.setup(['rm', 'insp']);
    });

    compare('9 env entries without a value', async (c) => {
      await c.step('--env NO_DEF unset, -e K=', ['run', '--rm', '--env', 'NO_DEF', '-e', 'EMPTY=', 'busybox', 'sh', '-c', 'env | grep -E "^(NO_DEF|EMPTY)" ; echo done'], {
        env: { NO_DEF: undefined },
      });
    });

    compare('10 supplementary groups', async (c) => {
      await c.step('-u 1000:1000', ['run', '--rm', '-u', '1000:1000', 'busybox', 'id']);
      await c.step('--group-add 50', ['run', '--rm', '--group-add', '50', 'busybox', 'id']);
      await c.step('-u nobody', ['run', '--rm', '-u', 'nobody', 'busybox', 'id']);
    });

    compare('11 run options applied', async (c) => {
      await c.step('sysctl', ['run', '--rm', '--sysctl', 'kernel.shm_rmid_forced=1', 'busybox', 'cat', '/proc/sys/kernel/shm_rmid_forced']);
      await c.step('oom-score-adj', ['run', '--rm', '--oom-score-adj', '500', 'busybox', 'cat', '/proc/self/oom_score_adj']);
      await c.step('ulimit', ['run', '--rm', '--ulimit', 'nofile=1024:2048', 'busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn']);
      await c.step('device', ['run', '--rm', '--device', '/dev/null:/dev/extra-null', 'busybox', 'ls', '-l', '/dev/extra-null'], {
        transform: (out) => out.toString().replace(/\s+\w{3} +\d+ \d\d:\d\d /, ' <date> '),
      });
      await c.step('ipc host', ['run', '--rm', '--ipc', 'host', 'busybox', 'true']);
      // PID 1 comes first; the other PIDs depend on how the runtime forked.
      await c.step('init', ['run', '--rm', '--init', 'busybox', 'ps', '-o', 'comm']);
    });

    compare('12 diff shows only real changes', async (c) => {
      await c.setup(['run', '--name', 'changes', 'busybox', 'sh', '-c', 'mkdir -p /tmp/n && echo x > /tmp/n/f && rm /bin/true && echo y >> /etc/passwd']);
      await c.step('diff', ['diff', 'changes'], { sortLines: true }); // dockerd lists in readdir order
      await c.setup(['create', '--name', 'unchanged', 'busybox', 'true']);
      await c.step('diff of a created container', ['diff', 'unchanged']);
      await c.setup(['rm', 'changes', 'unchanged']);
    });

    compare('14 archive of a never-started container', async (c) => {
      await c.setup(['create', '--name', 'fresh', 'busybox', 'true']);
      for (const file of ['resolv.conf', 'hosts', 'hostname']) {
        await c.step(`cp /etc/${file}`, ['cp', `fresh:/etc/${file}`, '-'], { transform: tarListing });
      }
      await c.step('inspect paths', ['inspect', '-f', '{{.ResolvConfPath}}|{{.HostsPath}}|{{.HostnamePath}}', 'fresh']);
      await c.setup(['rm', 'fresh']);
    });

    compare('15 volume prune on API 1.41 prunes named volumes', async (c) => {
      await c.setup(['volume', 'create', 'parity-named']);
      await c.setup(['volume', 'create', 'parity-used']);
      await c.setup(['create', '--name', 'volume-user', '-v', 'parity-used:/data', 'busybox', 'true']);
      await c.step('prune', ['volume', 'prune', '-f']);
      await c.step('left', ['volume', 'ls', '--format', '{{.Name}} {{.Driver}}']);
      await c.setup(['rm', 'volume-user']);
      await c.step('prune the now unused one', ['volume', 'prune', '-f']);
    });

    compare('16 routes berth lacks: swarm, networks, plugins, unknown paths', async (c) => {
      for (const args of [['service', 'ls'], ['node', 'ls'], ['secret', 'ls'], ['config', 'ls'], ['service', 'ps', 'x'], ['swarm', 'leave'], ['network', 'ls'], ['plugin', 'ls']]) {
        await c.step(args.join(' '), args);
      }
      await c.http('unknown path', 'GET', '/v1.41/no/such/route');
      await c.http('unknown method', 'POST', '/v1.41/swarm/unlockkey');
      await c.http('GET /swarm', 'GET', '/v1.41/swarm');
      await c.http('GET /tasks/x', 'GET', '/v1.41/tasks/x');
      await c.http('POST /swarm/leave', 'POST', '/v1.41/swarm/leave', '{}');
      await c.http('service update without version', 'POST', '/v1.41/services/x/update', '{}');
      await c.http('secret update without version', 'POST', '/v1.41/secrets/x/update', '{}');
      await c.http('service logs without streams', 'GET', '/v1.41/services/x/logs');
      await c.http('GET /networks', 'GET', '/v1.41/networks');
      await c.http('GET /plugins', 'GET', '/v1.41/plugins');
      await c.http('lower-case create body', 'POST', '/v1.41/containers/create?name=lowercase', JSON.stringify({ image: 'busybox', cmd: ['true'] }));
      await c.step('lower-case body took', ['inspect', '-f', '{{json .Config.Cmd}} {{.Config.Image}} {{.HostConfig.ShmSize}}', 'lowercase']);
      await c.setup(['rm', 'lowercase']);
    });
  });

  describe('changing a shared image', () => {
    compare('13 ps: ancestor filter, COMMAND column, sizes', async (c) => {
      await c.setup(['tag', 'busybox', 'busybox:parity-tag']);
      await c.setup(['run', '-d', '--name', 'ps13', 'busybox:parity-tag', 'sh', '-c', 'i=0; while true; do i=$((i+1)); sleep 1; done']);
      await c.step('ancestor by tag', ['ps', '--filter', 'ancestor=busybox:parity-tag', '--format', '{{.Names}}']);
      await c.step('ancestor by the image it tags', ['ps', '--filter', 'ancestor=busybox', '--filter', 'name=ps13', '--format', '{{.Names}}']);
      await c.step('COMMAND', ['ps', '--filter', 'name=ps13', '--format', '{{.Command}}']);
      await c.step('table', ['ps', '--filter', 'name=ps13']);
      await c.step('size', ['ps', '-s', '--filter', 'name=ps13', '--format', '{{.Size}}']);
      await c.setup(['rm', '-f', 'ps13']);
      await c.setup(['rmi', 'busybox:parity-tag']);
    });
  });

  it('every INTENDED_DIFFERENCES entry still matches a difference (remove the ones a fix made stale)', () => {
    const { used, explained } = judge(differences, INTENDED_DIFFERENCES);
    for (const [diff, reason] of explained) process.stdout.write(`# intended: ${diff.key} (${reason})\n`);
    const stale = INTENDED_DIFFERENCES.filter((e) => !used.has(e));
    assert.deepEqual(
      stale.map((e) => `${String(e.key)}: ${e.reason}`),
      [],
      'entries that no longer match any difference',
    );
  });
});
