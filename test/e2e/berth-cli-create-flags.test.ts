import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { berth, docker, DOCKER_CLIENTS } from '../helpers/cli';

/**
 * A daemon stand-in that records the create bodies clients send: the same flags given to the
 * docker CLI 28 and to the berth CLI must produce the same HostConfig/Config fields.
 * (Only a recorder: nothing here decides what a daemon answers.)
 */
async function startRecorder(dir: string): Promise<{ host: string; bodies: unknown[]; close(): Promise<void> }> {
  const socket = path.join(dir, 'rec.sock');
  const bodies: unknown[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('Api-Version', '1.45');
      res.setHeader('OSType', 'linux');
      res.setHeader('Content-Type', 'application/json');
      if (req.method === 'POST' && /\/containers\/create/.test(req.url ?? '')) {
        bodies.push(JSON.parse(Buffer.concat(chunks).toString()));
        res.statusCode = 201;
        res.end(JSON.stringify({ Id: 'f'.repeat(64), Warnings: [] }));
        return;
      }
      if (/\/_ping$/.test(req.url ?? '')) {
        res.setHeader('Content-Type', 'text/plain');
        res.end('OK');
        return;
      }
      if (/\/version$/.test(req.url ?? '')) {
        res.end(JSON.stringify({ ApiVersion: '1.45', MinAPIVersion: '1.24', Version: '27.0.0', Os: 'linux', Arch: 'amd64' }));
        return;
      }
      if (/\/info$/.test(req.url ?? '')) {
        res.end(JSON.stringify({ OSType: 'linux' }));
        return;
      }
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { host: `unix://${socket}`, bodies, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

type Body = { HostConfig?: Record<string, unknown>; NetworkingConfig?: unknown } & Record<string, unknown>;

/** The fields a flag changes in docker's create body: compare with docker's body for no flags. */
function changedFields(withFlags: Body, plain: Body): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(withFlags)) {
    if (key === 'HostConfig') continue;
    if (JSON.stringify(value) !== JSON.stringify(plain[key])) out[key] = value;
  }
  for (const [key, value] of Object.entries(withFlags.HostConfig ?? {})) {
    if (JSON.stringify(value) !== JSON.stringify(plain.HostConfig?.[key])) out[`HostConfig.${key}`] = value;
  }
  return out;
}

/** Go's zero values left out (docker sends a whole EndpointSettings; the non-zero fields are what count). */
function withoutZeros(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutZeros);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === null || v === '' || v === 0 || v === false) continue;
    out[key] = withoutZeros(v);
  }
  return out;
}

function pick(body: Body, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = key.startsWith('HostConfig.') ? body.HostConfig?.[key.slice('HostConfig.'.length)] : body[key];
  return out;
}

const docker28 = DOCKER_CLIENTS.find((c) => c === '/usr/local/bin/docker');

describe('berth run/create flags send what the docker CLI sends', { skip: docker28 ? false : 'needs the docker CLI 28 at /usr/local/bin/docker' }, () => {
  let tmp: string;
  let recorder: Awaited<ReturnType<typeof startRecorder>>;
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cflags-'));
    recorder = await startRecorder(tmp);
  });
  after(async () => {
    await recorder?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const bodyOf = async (client: 'docker' | 'berth', args: string[]): Promise<Body> => {
    const before = recorder.bodies.length;
    const r = client === 'docker' ? await docker(docker28!, recorder.host, ['create', ...args, 'busybox']) : await berth(recorder.host, ['create', ...args, 'busybox']);
    assert.equal(r.code, 0, `${client} create ${args.join(' ')}: ${r.stderr}`);
    assert.equal(recorder.bodies.length, before + 1);
    return recorder.bodies[before] as Body;
  };

  it('each new flag maps onto the same fields with the same values', async () => {
    const labelFile = path.join(tmp, 'labels');
    await fs.writeFile(labelFile, '# comment\nfrom=file\nboth=file\n');
    const cases: string[][] = [
      ['--group-add', '50', '--group-add', 'audio'],
      ['--ulimit', 'nofile=1024:2048', '--ulimit', 'core=-1', '--ulimit', 'nproc=10'],
      ['--sysctl', 'kernel.shm_rmid_forced=1', '--sysctl', 'net.ipv4.ip_forward=1'],
      ['--oom-score-adj', '500', '--oom-kill-disable'],
      ['--device', '/dev/fuse', '--device', '/dev/null:/dev/n:r', '--device', '/dev/zero:rw', '--device-cgroup-rule', 'c 10:200 rwm'],
      ['--device-read-bps', '/dev/sda:1mb', '--device-write-bps', '/dev/sda:2048', '--device-read-iops', '/dev/sda:100', '--device-write-iops', '/dev/sda:200', '--blkio-weight', '300', '--blkio-weight-device', '/dev/sda:200'],
      ['--cpu-period', '100000', '--cpu-quota', '50000', '--cpu-rt-period', '1000', '--cpu-rt-runtime', '500', '--cpuset-mems', '0', '--cgroup-parent', 'my.slice', '--cgroupns', 'private'],
      ['--memory-reservation', '64m', '--memory-swappiness', '10', '--kernel-memory', '50m'],
      ['--ipc', 'host', '--pid', 'host', '--uts', 'host', '--userns', 'host', '--runtime', 'runc', '--isolation', 'default'],
      ['--dns-option', 'ndots:2', '--dns-search', 'example.com', '--domainname', 'example.org'],
      ['--mount', 'type=bind,source=/tmp,target=/t,readonly,bind-propagation=rshared', '--mount', 'type=tmpfs,target=/m,tmpfs-size=1m,tmpfs-mode=1770', '--mount', 'type=volume,source=v,target=/v,volume-nocopy,volume-label=a=b'],
      ['--health-cmd', 'true', '--health-interval', '5s', '--health-timeout', '1m30s', '--health-retries', '3', '--health-start-period', '2s', '--health-start-interval', '500ms'],
      ['--no-healthcheck'],
      ['--annotation', 'a=b', '--storage-opt', 'size=10G', '--label-file', labelFile, '--label', 'both=flag'],
      ['--link', 'other:alias', '--volumes-from', 'other:ro', '--volume-driver', 'local', '-P'],
      ['--network', 'mynet', '--ip', '172.30.0.5', '--ip6', '2001:db8::33', '--network-alias', 'web', '--link-local-ip', '169.254.0.5'],
      ['--gpus', 'all'],
      ['-e', 'A=1', '-e', 'BERTH_TEST_UNSET_VAR', '-e', 'A=2', '-e', 'K='],
      ['--gpus', 'count=2,driver=nvidia,capabilities=compute'],
    ];
    const plain = await bodyOf('docker', []);
    for (const args of cases) {
      const theirs = changedFields(await bodyOf('docker', args), plain);
      assert.ok(Object.keys(theirs).length > 0, `docker sends something for ${args.join(' ')}`);
      const ours = pick(await bodyOf('berth', args), Object.keys(theirs));
      // docker 28 de-duplicates -e through a Go map, so its Env comes in a random order.
      for (const body of [ours, theirs]) if (Array.isArray(body.Env)) body.Env = [...(body.Env as string[])].sort();
      assert.deepEqual(withoutZeros(ours), withoutZeros(theirs), args.join(' '));
    }
  });

  it('bad values are refused before anything is sent, with docker’s message', async () => {
    const cases: [string[], RegExp][] = [
      [['--sysctl', 'kernel.foo=1'], /invalid argument "kernel.foo=1" for "--sysctl" flag: sysctl 'kernel.foo=1' is not allowed/],
      [['--ulimit', 'nofile=3:2'], /invalid argument "nofile=3:2" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: 3 > 2/],
      [['--ulimit', 'nofiles=1'], /invalid argument "nofiles=1" for "--ulimit" flag: invalid ulimit type: nofiles/],
      [['--device', '/dev/fuse:/dev/f:x'], /bad mode specified: x/],
      [['--device-cgroup-rule', 'c 1 rwm'], /invalid argument "c 1 rwm" for "--device-cgroup-rule" flag: invalid device cgroup format 'c 1 rwm'/],
      [['--cpu-count', '2', '--io-maxiops', '5'], /"--cpu-count" is only supported on a Docker daemon running on windows, but the Docker daemon is running on linux\n"--io-maxiops" is only supported/],
      [['--no-healthcheck', '--health-cmd', 'true'], /--no-healthcheck conflicts with --health-\* options/],
      [['--health-interval', 'soon'], /invalid argument "soon" for "--health-interval" flag: time: invalid duration "soon"/],
      [['--mount', 'type=bind,target=/x,bogus=1'], /invalid argument "type=bind,target=\/x,bogus=1" for "--mount" flag: unexpected key 'bogus' in 'bogus=1'/],
    ];
    for (const [args, message] of cases) {
      const before = recorder.bodies.length;
      const [ours, theirs] = await Promise.all([berth(recorder.host, ['create', ...args, 'busybox']), docker(docker28!, recorder.host, ['create', ...args, 'busybox'])]);
      assert.notEqual(theirs.code, 0, `docker refuses ${args.join(' ')}`);
      assert.match(theirs.stderr, message, `docker: ${args.join(' ')}`);
      assert.notEqual(ours.code, 0, `berth refuses ${args.join(' ')}`);
      assert.match(ours.stderr, message, `berth: ${args.join(' ')}`);
      assert.equal(recorder.bodies.length, before, 'nothing was sent');
    }
  });
});

/** The new flags against a real berthd: what they set is what the container gets. */
describe('berth run with the new flags against berthd', { skip: needsRoot('needs root (runc, overlay mounts)') }, () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('--group-add, --ulimit, --sysctl, --oom-score-adj, --init, --uts host reach the process', async () => {
    const r = await berth(daemon.host, ['run', '--rm', '-u', '1000:1000', '--group-add', '50', '--ulimit', 'nofile=1024:2048', '--sysctl', 'kernel.shm_rmid_forced=1', '--oom-score-adj', '300', '--init', '--uts', 'host', 'busybox', 'sh', '-c',
      'id; grep "^Max open files" /proc/self/limits; cat /proc/sys/kernel/shm_rmid_forced /proc/self/oom_score_adj; tr "\\0" " " < /proc/1/cmdline; echo; hostname']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'uid=1000 gid=1000 groups=50,1000');
    assert.match(lines[1]!, /^Max open files\s+1024\s+2048\s+files/);
    assert.deepEqual(lines.slice(2, 4), ['1', '300']);
    assert.match(lines[4]!, /^\/sbin\/docker-init -- sh -c /);
    assert.equal(lines[5], os.hostname(), '--uts host');
  });

  it('--cidfile writes the ID, refuses an existing file, and is removed when the create fails', async () => {
    const cidfile = path.join(daemon.root, 'cid');
    const r = await berth(daemon.host, ['create', '--cidfile', cidfile, '--mount', 'type=tmpfs,target=/m,tmpfs-size=1m', '--health-cmd', 'true', 'busybox', 'true']);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    assert.equal(await fs.readFile(cidfile, 'utf8'), id);
    const inspected = await berth(daemon.host, ['inspect', '--format', '{{json .HostConfig.Mounts}} {{json .Config.Healthcheck.Test}}', id]);
    assert.equal(inspected.stdout, '[{"Type":"tmpfs","Target":"/m","TmpfsOptions":{"SizeBytes":1048576}}] ["CMD-SHELL","true"]\n');
    const again = await berth(daemon.host, ['create', '--cidfile', cidfile, 'busybox', 'true']);
    assert.equal(again.code, 125);
    assert.match(again.stderr, /container ID file found, make sure the other container isn't running or delete /);
    const other = path.join(daemon.root, 'cid2');
    const failed = await berth(daemon.host, ['create', '--pull', 'never', '--cidfile', other, 'no-such-image:1', 'true']);
    assert.notEqual(failed.code, 0);
    await assert.rejects(fs.access(other), 'a failed create leaves no ID file');
  });

  it('--use-api-socket binds the daemon’s socket at /var/run/docker.sock', async () => {
    const r = await berth(daemon.host, ['run', '--rm', '--use-api-socket', 'busybox', 'sh', '-c', 'test -S /var/run/docker.sock && echo socket']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'socket\n');
  });
});
