import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import Docker from 'dockerode';
import { bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { docker, DOCKER_CLIENTS, runCommand } from '../helpers/cli';

const skip = needsRoot('needs root (runc, overlay mounts)') || (DOCKER_CLIENTS.length === 0 ? 'no docker CLI installed' : false);
const CLI_28 = '/usr/local/bin/docker';

/** Real clients against berthd: cp of a never-started container, volume prune by API version, routes berth lacks. */
describe('docker CLI fidelity: archive of a created container, volume prune, missing routes', { skip }, () => {
  let daemon: TestDaemon;
  const client = DOCKER_CLIENTS[0]!;
  const run = (args: string[], options: { client?: string } = {}) => docker(options.client ?? client, daemon.host, args);
  const ok = async (args: string[], options: { client?: string } = {}) => {
    const r = await run(args, options);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r;
  };

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('docker cp finds /etc/resolv.conf, /etc/hosts and /etc/hostname in a created, never-started container (each client)', async () => {
    for (const c of DOCKER_CLIENTS) {
      await ok(['create', '--name', 'never-started', 'busybox', 'true'], { client: c });
      for (const file of ['resolv.conf', 'hosts', 'hostname']) {
        const r = await run(['cp', `never-started:/etc/${file}`, '-'], { client: c });
        assert.equal(r.code, 0, `${c} cp /etc/${file}: ${r.stderr}`);
        // As Docker's init layer: an empty file, mode 0755, until the container starts.
        const listing = await runCommand('tar', ['tv'], { input: r.stdoutBytes });
        assert.match(listing.stdout, new RegExp(`^-rwxr-xr-x \\S+ +0 .* ${file.replace('.', '\\.')}\\n$`), `${c} ${file}`);
      }
      // The managed files the inspect paths name exist from create on too.
      const paths = (await ok(['inspect', '-f', '{{.ResolvConfPath}} {{.HostsPath}} {{.HostnamePath}}', 'never-started'], { client: c })).stdout.trim().split(' ');
      for (const p of paths) assert.equal((await runCommand('test', ['-f', p])).code, 0, `${p} exists`);
      // Started, the container sees the managed content over those mount points.
      await ok(['start', 'never-started'], { client: c });
      await ok(['wait', 'never-started'], { client: c });
      const hostname = await ok(['run', '--rm', '--hostname', 'named-host', 'busybox', 'cat', '/etc/hostname'], { client: c });
      assert.equal(hostname.stdout, 'named-host\n');
      await ok(['rm', 'never-started'], { client: c });
    }
  });

  it('an image without /etc gets /etc and the mount points at create, and runs', async () => {
    await ok(['create', '--name', 'no-etc-src', 'busybox', 'true']);
    const exported = await ok(['export', 'no-etc-src']);
    await ok(['rm', 'no-etc-src']);
    const dir = (await runCommand('mktemp', ['-d'])).stdout.trim();
    try {
      assert.equal((await runCommand('tar', ['x', '-C', dir], { input: exported.stdoutBytes })).code, 0);
      await runCommand('rm', ['-rf', `${dir}/etc`]);
      const rootfs = await runCommand('tar', ['c', '-C', dir, '.']);
      const imported = await docker(client, daemon.host, ['import', '--change', 'CMD ["/bin/cat", "/etc/hostname"]', '-', 'no-etc:1'], { input: rootfs.stdoutBytes });
      assert.equal(imported.code, 0, imported.stderr);
    } finally {
      await runCommand('rm', ['-rf', dir]);
    }
    await ok(['create', '--name', 'no-etc', '--hostname', 'bare', 'no-etc:1']);
    const cp = await run(['cp', 'no-etc:/etc/hostname', '-']);
    assert.equal(cp.code, 0, cp.stderr);
    await ok(['start', 'no-etc']);
    assert.equal((await ok(['wait', 'no-etc'])).stdout, '0\n');
    assert.equal((await ok(['logs', 'no-etc'])).stdout, 'bare\n');
    await ok(['rm', 'no-etc']);
    await ok(['rmi', 'no-etc:1']);
  });

  it('inspect shows the default ShmSize (64 MiB) dockerd stores, and an explicit one', async () => {
    await ok(['create', '--name', 'shm-default', 'busybox', 'true']);
    await ok(['create', '--name', 'shm-set', '--shm-size', '128m', 'busybox', 'true']);
    assert.equal((await ok(['inspect', '-f', '{{.HostConfig.ShmSize}}', 'shm-default'])).stdout, '67108864\n');
    assert.equal((await ok(['inspect', '-f', '{{.HostConfig.ShmSize}}', 'shm-set'])).stdout, '134217728\n');
    await ok(['rm', 'shm-default', 'shm-set']);
  });

  it('request bodies with lower-case field names work, as encoding/json matches them (dockerode, raw bodies)', async () => {
    const api = new Docker({ socketPath: daemon.socket });
    const body = JSON.stringify({ image: 'busybox', cmd: ['sh', '-c', 'echo "$GREETING from $(hostname)"'], env: ['GREETING=hi'], hostname: 'lower', hostconfig: { autoremove: false } });
    const created = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({ socketPath: daemon.socket, method: 'POST', path: '/v1.41/containers/create', headers: { 'Content-Type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(created.status, 201, created.text);
    const container = api.getContainer((JSON.parse(created.text) as { Id: string }).Id);
    const inspected = await container.inspect();
    assert.deepEqual(inspected.Config.Cmd, ['sh', '-c', 'echo "$GREETING from $(hostname)"']);
    assert.equal(inspected.Config.Hostname, 'lower');
    await container.start();
    await container.wait();
    const logs = await container.logs({ stdout: true });
    assert.equal(logs.subarray(8).toString(), 'hi from lower\n');
    await container.remove();
  });

  it("a command that cannot start: runc's complaint is the API error only, never container output or log (each client)", async () => {
    for (const c of DOCKER_CLIENTS) {
      const r = await run(['run', '--rm', 'busybox', 'no-such-command'], { client: c });
      assert.equal(r.code, 127, r.stderr);
      assert.match(r.stderr, /^docker: Error response from daemon: .*exec: "no-such-command": executable file not found in \$PATH/);
      assert.doesNotMatch(r.stderr, /runc run failed|Error waiting for container/, `${c}: ${r.stderr}`);
    }
    const kept = await run(['run', '--name', 'cannot-start', 'busybox', 'no-such-command']);
    assert.equal(kept.code, 127);
    const logs = await ok(['logs', 'cannot-start']);
    assert.equal(logs.stdout + logs.stderr, '', 'nothing logged');
    // A process that does start keeps its early stderr.
    const early = await run(['run', '--rm', 'busybox', 'sh', '-c', 'echo early >&2; echo out']);
    assert.equal(early.stderr, 'early\n');
    assert.equal(early.stdout, 'out\n');
    await ok(['rm', 'cannot-start']);
  });

  it('volume prune: anonymous volumes only on API ≥ 1.42 unless -a; named ones too on API < 1.42', async () => {
    const cli28 = DOCKER_CLIENTS.includes(CLI_28) ? CLI_28 : client;
    const anonymous = async () => (await ok(['volume', 'create'], { client: cli28 })).stdout.trim();
    await ok(['volume', 'create', 'named-kept'], { client: cli28 });
    await ok(['volume', 'create', 'named-used'], { client: cli28 });
    await ok(['create', '--name', 'uses-volume', '-v', 'named-used:/data', 'busybox', 'true'], { client: cli28 });
    const anon1 = await anonymous();
    assert.match(anon1, /^[a-f0-9]{64}$/);
    const inspect = await ok(['volume', 'inspect', '-f', '{{json .Labels}}', anon1], { client: cli28 });
    assert.deepEqual(JSON.parse(inspect.stdout), { 'com.docker.volume.anonymous': '' });

    const pruned = await ok(['volume', 'prune', '-f'], { client: cli28 });
    assert.match(pruned.stdout, new RegExp(`Deleted Volumes:\\n${anon1}\\n`));
    const left = (await ok(['volume', 'ls', '-q'], { client: cli28 })).stdout.split('\n').filter(Boolean).sort();
    assert.deepEqual(left, ['named-kept', 'named-used']);

    // -a (filter all=true) takes unused named volumes as well; a volume in use stays.
    const all = await ok(['volume', 'prune', '-a', '-f'], { client: cli28 });
    assert.match(all.stdout, /Deleted Volumes:\nnamed-kept\n/);
    assert.deepEqual((await ok(['volume', 'ls', '-q'], { client: cli28 })).stdout, 'named-used\n');

    // An old client (API 1.41) prunes named volumes without being asked: the CLI pinned to 1.41, then dockerode.
    await ok(['rm', 'uses-volume'], { client: cli28 });
    const old = await runCommand(cli28, ['-H', daemon.host, 'volume', 'prune', '-f'], { env: { DOCKER_API_VERSION: '1.41', DOCKER_CONFIG: '/nonexistent-docker-config' } });
    assert.equal(old.code, 0, old.stderr);
    assert.match(old.stdout, /Deleted Volumes:\nnamed-used\n/);

    await ok(['volume', 'create', 'named-dockerode'], { client: cli28 });
    const v141 = new Docker({ socketPath: daemon.socket, version: 'v1.41' });
    const report = await v141.pruneVolumes();
    assert.deepEqual(report.VolumesDeleted, ['named-dockerode']);
    const v145 = new Docker({ socketPath: daemon.socket, version: 'v1.45' });
    await ok(['volume', 'create', 'named-new-api'], { client: cli28 });
    assert.deepEqual((await v145.pruneVolumes()).VolumesDeleted, null, 'on 1.45 a named volume stays');
    assert.deepEqual((await v145.pruneVolumes({ filters: { all: ['true'] } })).VolumesDeleted, ['named-new-api']);
  });

  it('volume prune refuses filters moby refuses, with its messages', async () => {
    const api = new Docker({ socketPath: daemon.socket, version: 'v1.45' });
    const refused = async (filters: Record<string, string[]>) => {
      try {
        await api.pruneVolumes({ filters });
      } catch (err) {
        const e = err as { statusCode?: number; json?: { message?: string } };
        return { status: e.statusCode, message: e.json?.message };
      }
      return undefined;
    };
    assert.deepEqual(await refused({ dangling: ['true'] }), { status: 400, message: "invalid filter 'dangling'" });
    assert.deepEqual(await refused({ all: ['maybe'] }), { status: 400, message: 'invalid filter \'all\': strconv.ParseBool: parsing "maybe": invalid syntax' });
    assert.deepEqual(await refused({ all: ['true', 'false'] }), { status: 400, message: "invalid filter 'all=[true false]': only one value is expected" });
  });

  it('swarm commands answer as a dockerd outside a swarm; plugin commands get a 501 naming the feature; network commands work', async () => {
    for (const c of DOCKER_CLIENTS) {
      for (const args of [['service', 'ls'], ['node', 'ls'], ['secret', 'ls'], ['config', 'ls'], ['service', 'ps', 'web']]) {
        const r = await run(args, { client: c });
        assert.notEqual(r.code, 0, `${c} ${args.join(' ')}`);
        assert.match(r.stderr, /Error response from daemon: This node is not a swarm manager\. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again\./, `${c} ${args.join(' ')}`);
      }
      const leave = await run(['swarm', 'leave'], { client: c });
      assert.match(leave.stderr, /This node is not part of a swarm/);
      const networks = await ok(['network', 'ls', '--format', '{{.Name}}'], { client: c });
      assert.deepEqual(networks.stdout.split('\n').filter(Boolean).sort(), ['bridge', 'host', 'none']);
      const plugins = await run(['plugin', 'ls'], { client: c });
      assert.match(plugins.stderr, /Error response from daemon: plugins are not supported by berth yet/);
      await ok(['network', 'prune', '-f'], { client: c });
    }
  });
});
