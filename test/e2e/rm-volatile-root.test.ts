import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { apiRequest, bootstrapBusybox, isRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';

const skip = !isRoot ? 'needs root (runc, mounts)' : false;

/** The super options (mountinfo's last field) of what is mounted at `mountPoint`, or undefined. */
async function superOptions(mountPoint: string): Promise<string[] | undefined> {
  for (const line of (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const fields = line.split(' ');
    if (fields[4] === mountPoint) return fields[fields.length - 1]!.split(',');
  }
  return undefined;
}

/** Linux 5.10 shows the option as `volatile`, newer kernels as `fsync=volatile`. */
const isVolatile = (options: string[] | undefined) => Boolean(options?.some((o) => o === 'volatile' || o === 'fsync=volatile'));

/**
 * A --rm container's root is thrown away at exit and never mounted again, so it is mounted
 * with overlay's volatile option (its unmount does not sync the data root's file system);
 * any other container's root keeps overlay's syncs, as it may be started again.
 */
describe('volatile roots for --rm containers', { skip }, () => {
  let daemon: TestDaemon;
  const api = (method: string, url: string, body?: unknown) => apiRequest(daemon.socket, method, url, body);
  const startSleeper = async (autoRemove: boolean) => {
    const res = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { AutoRemove: autoRemove, NetworkMode: 'none' } });
    assert.equal(res.status, 201, res.body);
    const id = (JSON.parse(res.body) as { Id: string }).Id;
    assert.equal((await api('POST', `/containers/${id}/start`)).status, 204);
    return id;
  };
  const mountPoint = (id: string) => path.join(daemon.dataRoot, 'rootfs', id, 'merged');

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('mounts a --rm root volatile and removes it at exit; a plain container root stays synced and restarts', async () => {
    const rm = await startSleeper(true);
    const plain = await startSleeper(false);
    assert.ok(isVolatile(await superOptions(mountPoint(rm))), 'the --rm root is volatile');
    const plainOptions = await superOptions(mountPoint(plain));
    assert.ok(plainOptions, 'the plain root is mounted');
    assert.ok(!isVolatile(plainOptions), 'the plain root is not volatile');

    // The --rm one goes at its exit, mount and all.
    assert.equal((await api('POST', `/containers/${rm}/kill`)).status, 204);
    for (const deadline = Date.now() + 20_000; (await api('GET', `/containers/${rm}/json`)).status !== 404; ) {
      assert.ok(Date.now() < deadline, 'the --rm container is removed after its exit');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(await superOptions(mountPoint(rm)), undefined);

    // The plain one is unmounted at its exit and mounted again by a second start.
    assert.equal((await api('POST', `/containers/${plain}/stop?t=0`)).status, 204);
    assert.equal(await superOptions(mountPoint(plain)), undefined);
    assert.equal((await api('POST', `/containers/${plain}/start`)).status, 204);
    const again = await superOptions(mountPoint(plain));
    assert.ok(again && !isVolatile(again), 'the plain root is mounted again, not volatile');
    assert.equal((await api('DELETE', `/containers/${plain}?force=1`)).status, 204);
  });

  it('keeps a created --rm root mounted for its start; a copy from it leaves it startable, and a removal unmounts it', async () => {
    const create = async () => {
      const res = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { AutoRemove: true, NetworkMode: 'none' } });
      assert.equal(res.status, 201, res.body);
      return (JSON.parse(res.body) as { Id: string }).Id;
    };
    const id = await create();
    assert.ok(isVolatile(await superOptions(mountPoint(id))), 'the root is mounted (volatile) from create on');
    // A copy borrows that mount and unmounts it after, remountable: the start mounts it again.
    const copied = await api('GET', `/containers/${id}/archive?path=/etc/hostname`);
    assert.equal(copied.status, 200, copied.body);
    // The copy's answer ends before the lending's unmount does (it runs after the stream): wait for it.
    let after = await superOptions(mountPoint(id));
    for (let i = 0; i < 100 && after !== undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      after = await superOptions(mountPoint(id));
    }
    assert.equal(after, undefined, 'unmounted after the copy');
    assert.equal((await api('POST', `/containers/${id}/start`)).status, 204);
    assert.ok(isVolatile(await superOptions(mountPoint(id))), 'mounted volatile again by the start');
    assert.equal((await api('DELETE', `/containers/${id}?force=1`)).status, 204);
    assert.equal(await superOptions(mountPoint(id)), undefined);

    const never = await create();
    assert.ok(await superOptions(mountPoint(never)));
    assert.equal((await api('DELETE', `/containers/${never}`)).status, 204);
    assert.equal(await superOptions(mountPoint(never)), undefined, 'a created --rm container\'s removal unmounts its root');
  });

  it('a created --rm container whose root is still mounted goes at a daemon restart, mount and all (restore)', async () => {
    const res = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { AutoRemove: true, NetworkMode: 'none' } });
    assert.equal(res.status, 201, res.body);
    const id = (JSON.parse(res.body) as { Id: string }).Id;
    assert.ok(isVolatile(await superOptions(mountPoint(id))));
    await daemon.restart();
    assert.equal((await api('GET', `/containers/${id}/json`)).status, 404);
    assert.equal(await superOptions(mountPoint(id)), undefined);
  });
});
