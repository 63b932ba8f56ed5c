import { after, before, describe, it } from 'node:test';
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
  });

  it('the runtime path is the runc on PATH', async () => {
    const which = (await runCommand('sh', ['-c', 'command -v runc'])).stdout.trim();
    assert.equal((info.Runtimes as Record<string, { path: string }>).runc!.path, which);
  });
});
