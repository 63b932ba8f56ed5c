import { after, before, describe, it } from 'node:test';
import { DEFAULT_RUNTIME_NAME } from '../helpers/runtime';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import { needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { docker, DOCKER_CLIENTS, runCommand } from '../helpers/cli';

const skip = needsRoot('needs root (the daemon)') || (DOCKER_CLIENTS.length === 0 ? 'no docker CLI installed' : false);

/** findmnt's file system type → dockerd's name for it. */
const DOCKER_FS_NAME: Record<string, string> = { ext2: 'extfs', ext3: 'extfs', ext4: 'extfs', xfs: 'xfs', btrfs: 'btrfs', tmpfs: 'tmpfs', zfs: 'zfs', overlay: 'overlayfs' };

/** `docker info` reports this machine, checked against what the kernel says directly. */
describe('docker info against berthd reports the real system', { skip }, () => {
  let daemon: TestDaemon;
  let info: Record<string, unknown>;
  before(async () => {
    daemon = await startTestDaemon();
    const r = await docker(DOCKER_CLIENTS[0]!, daemon.host, ['info', '--format', '{{json .}}']);
    assert.equal(r.code, 0, r.stderr);
    info = JSON.parse(r.stdout) as Record<string, unknown>;
  });
  after(async () => {
    await daemon?.stop();
  });

  it('cgroup version and driver as mounted', () => {
    assert.equal(info.CgroupVersion, existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1');
    assert.equal(info.CgroupDriver, 'cgroupfs');
    const v1 = info.CgroupVersion === '1';
    assert.equal(info.SwapLimit, v1 ? existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') : true);
    assert.equal(info.CPUSet, v1 ? existsSync('/sys/fs/cgroup/cpuset/cpuset.cpus') : true);
    assert.equal(info.NCPU, os.availableParallelism());
  });

  it('the backing file system of the data root', async () => {
    const fstype = (await runCommand('findmnt', ['-n', '-o', 'FSTYPE', '--target', daemon.dataRoot])).stdout.trim();
    const status = Object.fromEntries(info.DriverStatus as [string, string][]);
    assert.equal(status['Backing Filesystem'], DOCKER_FS_NAME[fstype] ?? fstype, `findmnt says ${fstype}`);
    // These fill in d_type (xfs only with ftype=1, which mkfs.xfs makes by default).
    if (['ext4', 'tmpfs', 'btrfs', 'overlay'].includes(fstype)) assert.equal(status['Supports d_type'], 'true');
  });

  it('the runtime\'s commit (RuncCommit), kernel memory and swarm state as dockerd reports them', async () => {
    const runtime = (await runCommand(DEFAULT_RUNTIME_NAME, ['--version'])).stdout;
    const commit = /^commit: *(\S+)/m.exec(runtime)?.[1] ?? '';
    assert.deepEqual(info.RuncCommit, { ID: commit, Expected: commit });
    const v1 = info.CgroupVersion === '1';
    assert.equal(info.KernelMemory, v1 && existsSync('/sys/fs/cgroup/memory/memory.kmem.limit_in_bytes'));
    assert.equal(info.KernelMemoryTCP, v1 && existsSync('/sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes'));
    assert.deepEqual(info.Swarm, { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null });
    // The raw answer: Go's nil slice for no warnings, and the proxy fields from the daemon's environment.
    const raw = await new Promise<Record<string, unknown>>((resolve, reject) => {
      http.get({ socketPath: daemon.socket, path: '/v1.41/info' }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
      }).on('error', reject);
    });
    assert.ok(raw.Warnings === null || (Array.isArray(raw.Warnings) && raw.Warnings.length > 0), 'no empty list');
    assert.equal(raw.HttpProxy, process.env.HTTP_PROXY ?? process.env.http_proxy ?? '');
    assert.ok('GenericResources' in raw && 'ContainerdCommit' in raw && 'InitCommit' in raw && 'NoProxy' in raw);
  });

  it('IPv4 forwarding as /proc says, security options as the kernel offers', async () => {
    assert.equal(info.IPv4Forwarding, (await fs.readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim() === '1');
    const seccomp = /^Seccomp:/m.test(await fs.readFile('/proc/self/status', 'utf8'));
    assert.equal((info.SecurityOptions as string[]).includes('name=seccomp,profile=builtin'), seccomp);
    assert.ok(!(info.SecurityOptions as string[]).some((o) => o.startsWith('name=no-new-privileges')), 'berth does not set no-new-privileges by default');
  });

  it('open event streams and the debug level are counted, not constants', async () => {
    assert.equal(info.Debug, true, 'the test daemon logs at debug level');
    const before = info.NEventsListener as number;
    const events = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ socketPath: daemon.socket, method: 'GET', path: '/events' }, resolve);
      req.on('error', reject);
      req.end();
    });
    const during = JSON.parse((await docker(DOCKER_CLIENTS[0]!, daemon.host, ['info', '--format', '{{json .}}'])).stdout) as Record<string, unknown>;
    assert.equal(during.NEventsListener, before + 1);
    events.destroy();
    // NGoroutines counts what the daemon holds open (Node's active resources): streams add to it.
    const goroutines = async () => (JSON.parse((await docker(DOCKER_CLIENTS[0]!, daemon.host, ['info', '--format', '{{json .}}'])).stdout) as { NGoroutines: number }).NGoroutines;
    const quiet = await goroutines();
    assert.ok(quiet > 0);
    const streams = await Promise.all(
      [1, 2, 3].map(
        () =>
          new Promise<http.IncomingMessage>((resolve, reject) => {
            const req = http.request({ socketPath: daemon.socket, method: 'GET', path: '/events' }, resolve);
            req.on('error', reject);
            req.end();
          }),
      ),
    );
    const busy = await goroutines();
    for (const stream of streams) stream.destroy();
    assert.ok(busy >= quiet + 3, `${busy} >= ${quiet} + 3`);
  });

  it('the runtime is the one on PATH berthd picks (crun, else runc), listed as the default', async () => {
    const name = DEFAULT_RUNTIME_NAME;
    const which = (await runCommand('sh', ['-c', `command -v ${name}`])).stdout.trim();
    assert.deepEqual(info.Runtimes, { [name]: { path: which } });
    assert.equal(info.DefaultRuntime, name);
  });
});
