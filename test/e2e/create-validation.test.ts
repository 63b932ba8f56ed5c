import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { docker, DOCKER_CLIENTS } from '../helpers/cli';
import { type PrivateDockerd, privateDockerdSkipReason, startPrivateDockerd } from '../helpers/private-dockerd';

const skip = needsRoot('needs root (runc, overlay mounts)');
const noDocker = DOCKER_CLIENTS.length === 0 ? 'no docker CLI installed' : false;

/** Bodies and values dockerd refuses are refused at create with its status and message, before any engine code runs. */
describe('create-time validation against a real daemon', { skip }, () => {
  let daemon: TestDaemon;
  const containerCount = async () => (JSON.parse((await apiRequest(daemon.socket, 'GET', '/containers/json?all=1')).body) as unknown[]).length;

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('wrongly typed JSON bodies get a 400 naming the field, and create nothing', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['/containers/create', { Image: 5 }, /^invalid JSON: json: cannot unmarshal number into Go struct field ContainerConfigWrapper\.Image of type string$/],
      ['/containers/create', { Image: 'busybox', Env: 5 }, /^invalid JSON: json: cannot unmarshal number into Go struct field ContainerConfigWrapper\.Env of type \[\]string$/],
      ['/containers/create', { Image: 'busybox', HostConfig: { Memory: '1g' } }, /ContainerConfigWrapper\.HostConfig\.Memory of type int64$/],
      ['/containers/create', null, /^config cannot be empty in order to create a container$/],
      ['/containers/create', 'busybox', /^invalid JSON: json: cannot unmarshal string into Go value of type ContainerConfigWrapper$/],
      ['/volumes/create', { Name: 7 }, /CreateOptions\.Name of type string$/],
    ];
    for (const [path, body, message] of cases) {
      const r = await apiRequest(daemon.socket, 'POST', path, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.body}`);
      assert.match((JSON.parse(r.body) as { message: string }).message, message);
    }
    assert.equal(await containerCount(), 0);
  });

  it('exec create, update and commit bodies are checked the same way', async () => {
    const created = await apiRequest(daemon.socket, 'POST', '/containers/create?name=typed', { Image: 'busybox', Cmd: ['sleep', '60'] });
    assert.equal(created.status, 201, created.body);
    assert.equal((await apiRequest(daemon.socket, 'POST', '/containers/typed/start')).status, 204);
    const cases: [string, unknown, RegExp][] = [
      ['/containers/typed/exec', { Cmd: 'ls' }, /ExecConfig\.Cmd of type \[\]string$/],
      ['/containers/typed/update', { Memory: 'lots' }, /UpdateConfig\.Memory of type int64$/],
      ['/containers/typed/update', { NanoCpus: 1e12 }, /^Range of CPUs is from 0\.01 to \d+\.00, as there are only \d+ CPUs available$/],
      ['/commit?container=typed', { Labels: ['a'] }, /ContainerConfigWrapper\.Labels of type map\[string\]string$/],
    ];
    for (const [path, body, message] of cases) {
      const r = await apiRequest(daemon.socket, 'POST', path, body);
      assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${r.body}`);
      assert.match((JSON.parse(r.body) as { message: string }).message, message);
    }
    await apiRequest(daemon.socket, 'DELETE', '/containers/typed?force=1');
  });

  it('bad HostConfig values are refused at create by the docker CLI path with dockerd`s messages', { skip: noDocker }, async () => {
    const ncpu = os.availableParallelism();
    const cases: [string[], RegExp][] = [
      [['-m', '1'], /Minimum memory limit allowed is 6MB/],
      [['--cpuset-cpus', 'abc'], /Invalid value abc for cpuset cpus/],
      [['--cpuset-cpus', '999'], /Requested CPUs are not available - requested 999/],
      [['-w', 'relative/dir'], /the working directory 'relative\/dir' is invalid, it needs to be an absolute path/],
      [['-v', '/tmp:/'], /invalid specification: destination can't be '\/'/],
      [['--cpus', String(ncpu * 50)], new RegExp(`Range of CPUs is from 0\\.01 to ${ncpu}\\.00, as there are only ${ncpu} CPUs available`)],
      [['--cpu-quota', '10'], /CPU cfs quota can not be less than 1ms/],
      [['--memory-reservation', '1k'], /Minimum memory reservation allowed is 6MB/],
    ];
    for (const client of DOCKER_CLIENTS) {
      for (const [flags, message] of cases) {
        const r = await docker(client, daemon.host, ['create', ...flags, 'busybox', 'true']);
        assert.notEqual(r.code, 0, `${client} create ${flags.join(' ')} must fail`);
        assert.match(r.stderr, message, `${client} create ${flags.join(' ')}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /runc|cgroup|OCI runtime/, 'no runtime internals');
      }
    }
    assert.equal(await containerCount(), 0, 'nothing was created');
  });

  it('bad values only the API can send get a 400 with dockerd`s message, never a 500', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ Memory: -1 }, 'Minimum memory limit allowed is 6MB'],
      [{ ShmSize: -1 }, 'SHM size can not be less than 0'],
      [{ NanoCpus: -1 }, `Range of CPUs is from 0.01 to ${os.availableParallelism()}.00, as there are only ${os.availableParallelism()} CPUs available`],
      [{ MemorySwappiness: 101 }, 'Invalid value: 101, valid memory swappiness range is 0-100'],
      [{ OomScoreAdj: 1001 }, 'Invalid value 1001, range for oom score adj is [-1000, 1000]'],
      [{ Mounts: [{ Type: 'bind', Source: '/tmp', Target: '/' }] }, `invalid mount config for type "bind": invalid specification: destination can't be '/'`],
      [{ CpuPeriod: 100, CpuQuota: 0 }, 'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)'],
    ];
    for (const [hostConfig, message] of cases) {
      const r = await apiRequest(daemon.socket, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: hostConfig });
      assert.equal(r.status, 400, `${JSON.stringify(hostConfig)}: ${r.body}`);
      assert.equal((JSON.parse(r.body) as { message: string }).message, message);
    }
    assert.equal(await containerCount(), 0);
  });

  it('values dockerd accepts run: limits within range, pids-limit -1, swappiness -1', async () => {
    const r = await apiRequest(daemon.socket, 'POST', '/containers/create?name=limited', {
      Image: 'busybox',
      Cmd: ['cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes'],
      HostConfig: { Memory: 6 * 1024 * 1024, NanoCpus: 5e8, CpusetCpus: '0', PidsLimit: -1, MemorySwappiness: -1, ShmSize: 0 },
    });
    assert.equal(r.status, 201, r.body);
    assert.deepEqual((JSON.parse(r.body) as { Warnings: string[] }).Warnings, []);
    const started = await apiRequest(daemon.socket, 'POST', '/containers/limited/start');
    assert.equal(started.status, 204, started.body);
    const waited = await apiRequest(daemon.socket, 'POST', '/containers/limited/wait');
    assert.equal((JSON.parse(waited.body) as { StatusCode: number }).StatusCode, 0);
    await apiRequest(daemon.socket, 'DELETE', '/containers/limited?force=1');
  });

  it('-p and --health-cmd are applied: the docker CLI prints no warning for them', { skip: noDocker }, async () => {
    for (const client of DOCKER_CLIENTS) {
      const r = await docker(client, daemon.host, ['create', '--name', 'warned', '-p', '8080:80', '--health-cmd', 'true', 'busybox', 'sleep', '1']);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /PortBindings/);
      assert.doesNotMatch(r.stderr, /Healthcheck/);
      await docker(client, daemon.host, ['rm', 'warned']);
      const quiet = await docker(client, daemon.host, ['create', '--name', 'quiet', 'busybox', 'true']);
      assert.equal(quiet.code, 0, quiet.stderr);
      assert.equal(quiet.stderr, '', 'a plain create warns about nothing');
      await docker(client, daemon.host, ['rm', 'quiet']);
    }
  });

  it('namespace modes berth runs as private are named in a warning; host and the defaults are not', { skip: noDocker }, async () => {
    for (const client of DOCKER_CLIENTS) {
      const joined = await docker(client, daemon.host, ['create', '--name', 'ns-joined', '--ipc', 'container:other', '--pid', 'container:other', 'busybox', 'true']);
      assert.equal(joined.code, 0, joined.stderr);
      assert.match(joined.stderr, /WARNING: IpcMode "container:other" is not supported yet: the container gets a namespace of its own/);
      assert.match(joined.stderr, /WARNING: PidMode "container:other" is not supported yet/);
      await docker(client, daemon.host, ['rm', 'ns-joined']);
      const host = await docker(client, daemon.host, ['create', '--name', 'ns-host', '--ipc', 'host', '--pid', 'host', '--uts', 'host', '--ipc', 'shareable', 'busybox', 'true']);
      assert.equal(host.code, 0, host.stderr);
      assert.equal(host.stderr, '', 'host and shareable namespaces are applied as asked');
      await docker(client, daemon.host, ['rm', 'ns-host']);
    }
  });
});

/** The same bad values sent to a private dockerd get the same status and message from both. */
describe('create-time validation matches dockerd', { skip: needsRoot('needs root (runc, overlay mounts)') || (privateDockerdSkipReason() ?? false) }, () => {
  let daemon: TestDaemon;
  let dockerd: PrivateDockerd;
  before(async () => {
    [daemon, dockerd] = await Promise.all([startTestDaemon(), startPrivateDockerd()]);
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await Promise.all([daemon?.stop(), dockerd?.stop()]);
  });

  it('HostConfig values and a relative WorkingDir: same 400 and message', async () => {
    const bodies: Record<string, unknown>[] = [
      { HostConfig: { Memory: -1 } },
      { HostConfig: { Memory: 1 } },
      { HostConfig: { ShmSize: -1 } },
      { HostConfig: { NanoCpus: -1 } },
      { HostConfig: { NanoCpus: os.availableParallelism() * 50e9 } },
      { HostConfig: { MemorySwappiness: 101 } },
      { HostConfig: { OomScoreAdj: 1001 } },
      { HostConfig: { Mounts: [{ Type: 'bind', Source: '/tmp', Target: '/' }] } },
      { HostConfig: { CpuPeriod: 100 } },
      { HostConfig: { CpuQuota: 10 } },
      { HostConfig: { CpusetCpus: 'abc' } },
      { HostConfig: { MemoryReservation: 1024 } },
      { HostConfig: { Memory: 64 << 20, MemorySwap: 32 << 20 } },
      { WorkingDir: 'relative' },
    ];
    const dockerdSocket = dockerd.host.replace(/^unix:\/\//, '');
    for (const extra of bodies) {
      const body = { Image: 'busybox', Cmd: ['true'], ...extra };
      const [ours, theirs] = await Promise.all([apiRequest(daemon.socket, 'POST', '/containers/create', body), apiRequest(dockerdSocket, 'POST', '/containers/create', body)]);
      assert.equal(theirs.status, 400, `dockerd: ${JSON.stringify(extra)} ${theirs.body}`);
      assert.equal(ours.status, theirs.status, JSON.stringify(extra));
      assert.deepEqual(JSON.parse(ours.body), JSON.parse(theirs.body), JSON.stringify(extra));
    }
  });
});
