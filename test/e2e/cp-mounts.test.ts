import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { berth } from '../helpers/cli';

const skip = needsRoot('needs root (runc, overlay mounts)');

/**
 * `cp` works on what the running container sees (its mount namespace): a file copied into
 * a bind mount or a volume lands there, not in the hidden upper layer beneath the mount.
 */
describe('berth cp into and out of mounts of a running container', { skip }, () => {
  let daemon: TestDaemon;
  let tmp: string;
  const ok = async (args: string[], input?: string) => {
    const r = await berth(daemon.host, args, { input });
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r;
  };

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
    tmp = await fs.mkdtemp(path.join(daemon.root, 'cp-'));
    await fs.writeFile(path.join(tmp, 'in.txt'), 'from the host\n');
  });
  after(async () => {
    await daemon?.stop();
  });

  it('a bind mount, both ways', async () => {
    const bind = path.join(tmp, 'bind');
    await fs.mkdir(bind);
    await fs.writeFile(path.join(bind, 'already.txt'), 'was on the host\n');
    await ok(['run', '-d', '--name', 'binder', '-v', `${bind}:/data`, 'busybox', 'sleep', '1000']);

    await ok(['cp', path.join(tmp, 'in.txt'), 'binder:/data/']);
    assert.equal(await fs.readFile(path.join(bind, 'in.txt'), 'utf8'), 'from the host\n', 'the file is in the host dir');
    assert.equal((await ok(['exec', 'binder', 'cat', '/data/in.txt'])).stdout, 'from the host\n', 'and visible at /data');

    await ok(['exec', 'binder', 'sh', '-c', 'echo made inside > /data/inside.txt']);
    const out = path.join(tmp, 'out-bind');
    await fs.mkdir(out);
    await ok(['cp', 'binder:/data/inside.txt', out]);
    await ok(['cp', 'binder:/data/already.txt', out]);
    assert.equal(await fs.readFile(path.join(out, 'inside.txt'), 'utf8'), 'made inside\n');
    assert.equal(await fs.readFile(path.join(out, 'already.txt'), 'utf8'), 'was on the host\n');
    await ok(['rm', '-f', 'binder']);
  });

  it('a named volume, both ways', async () => {
    // The berth CLI has no volume commands yet: the API makes it.
    const created = await apiRequest(daemon.socket, 'POST', '/volumes/create', { Name: 'cpvol' });
    assert.equal(created.status, 201, created.body);
    const mountpoint = (JSON.parse(created.body) as { Mountpoint: string }).Mountpoint;
    await ok(['run', '-d', '--name', 'voluser', '-v', 'cpvol:/data', 'busybox', 'sleep', '1000']);

    await ok(['cp', path.join(tmp, 'in.txt'), 'voluser:/data/']);
    assert.equal(await fs.readFile(path.join(mountpoint, 'in.txt'), 'utf8'), 'from the host\n', 'the file is in the volume');
    assert.equal((await ok(['exec', 'voluser', 'cat', '/data/in.txt'])).stdout, 'from the host\n', 'and visible at /data');

    await ok(['exec', 'voluser', 'sh', '-c', 'mkdir /data/sub && echo deep > /data/sub/f']);
    const out = path.join(tmp, 'out-vol');
    await ok(['cp', 'voluser:/data/sub', out]);
    assert.equal(await fs.readFile(path.join(out, 'f'), 'utf8'), 'deep\n');

    // The volume outlives the container, with what cp put there.
    await ok(['rm', '-f', 'voluser']);
    await ok(['run', '--rm', '-v', 'cpvol:/data', 'busybox', 'cat', '/data/in.txt']).then((r) => assert.equal(r.stdout, 'from the host\n'));
  });

  it('a stopped container still copies through its own root file system', async () => {
    await ok(['create', '--name', 'stopped', 'busybox', 'true']);
    await ok(['cp', path.join(tmp, 'in.txt'), 'stopped:/in.txt']);
    const out = path.join(tmp, 'out-stopped');
    await fs.mkdir(out);
    await ok(['cp', 'stopped:/in.txt', out]);
    assert.equal(await fs.readFile(path.join(out, 'in.txt'), 'utf8'), 'from the host\n');
    await ok(['rm', 'stopped']);
  });

  it('a stopped container: its volume and bind mount, both ways (bound in for the copy, as dockerd does)', async () => {
    const bind = path.join(tmp, 'stopped-bind');
    await fs.mkdir(bind);
    await fs.writeFile(path.join(bind, 'already.txt'), 'was on the host\n');
    const created = await apiRequest(daemon.socket, 'POST', '/volumes/create', { Name: 'stoppedvol' });
    const mountpoint = (JSON.parse(created.body) as { Mountpoint: string }).Mountpoint;
    await fs.writeFile(path.join(mountpoint, 'invol.txt'), 'in the volume\n');
    // Never started: the mount points do not even exist in its root file system yet.
    await ok(['create', '--name', 'parked', '-v', `${bind}:/bind`, '-v', 'stoppedvol:/vol', '-v', `${bind}:/robind:ro`, 'busybox', 'sh', '-c', 'cat /vol/in.txt /bind/in.txt > /vol/seen']);

    await ok(['cp', path.join(tmp, 'in.txt'), 'parked:/bind/']);
    await ok(['cp', path.join(tmp, 'in.txt'), 'parked:/vol/']);
    assert.equal(await fs.readFile(path.join(bind, 'in.txt'), 'utf8'), 'from the host\n', 'in the bind source');
    assert.equal(await fs.readFile(path.join(mountpoint, 'in.txt'), 'utf8'), 'from the host\n', 'in the volume');
    const out = path.join(tmp, 'out-parked');
    await fs.mkdir(out);
    await ok(['cp', 'parked:/bind/already.txt', out]);
    await ok(['cp', 'parked:/vol/invol.txt', out]);
    assert.equal(await fs.readFile(path.join(out, 'already.txt'), 'utf8'), 'was on the host\n');
    assert.equal(await fs.readFile(path.join(out, 'invol.txt'), 'utf8'), 'in the volume\n');
    // A read-only bind stays read-only for cp too.
    await fs.writeFile(path.join(tmp, 'ro.txt'), 'must not land\n');
    const refused = await berth(daemon.host, ['cp', path.join(tmp, 'ro.txt'), 'parked:/robind/']);
    assert.notEqual(refused.code, 0, 'cp into a read-only bind mount must fail');
    assert.match(refused.stderr, /read-only/i);
    await assert.rejects(fs.access(path.join(bind, 'ro.txt')));

    // The container sees what cp put there; after its exit, cp still reads the volume.
    await ok(['start', '-a', 'parked']);
    const afterRun = path.join(tmp, 'out-parked-ran');
    await fs.mkdir(afterRun);
    await ok(['cp', 'parked:/vol/seen', afterRun]);
    assert.equal(await fs.readFile(path.join(afterRun, 'seen'), 'utf8'), 'from the host\nfrom the host\n');
    // Nothing stayed bound or mounted, and the copies never went to the hidden layer.
    const mounts = await fs.readFile('/proc/self/mountinfo', 'utf8');
    assert.equal(mounts.includes(path.join(daemon.dataRoot, 'rootfs')), false, mounts);
    const diff = await ok(['diff', 'parked']);
    assert.doesNotMatch(diff.stdout, /in\.txt|invol|seen/);
    await ok(['rm', 'parked']);
  });
});
