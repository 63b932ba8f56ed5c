import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readlinkSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { createContainer, Harness, makeHarness, newId, runtimeConfig, skipReason, type Created } from './fixture';
import { RuncDriver } from '../../../src/runtime/driver';
import { findMonitors } from '../../../src/runtime/driver/monitor-processes';

const skip = skipReason();

/** The monitor of a created (not yet started) task: it holds the runtime's sealed copy as fd 4 (and no other memfd), if it was given one. */
async function waitingMonitor(driver: RuncDriver, c: Created, execId?: string): Promise<{ pid: number; argv: string[]; fd4: string | undefined }> {
  const monitors = await findMonitors(driver.taskDir(c.id, execId));
  const pid = monitors.find((m) => m.socketPath === path.join(driver.taskDir(c.id, execId), 'attach.sock'))!.pid;
  const argv = (await fs.readFile(`/proc/${pid}/cmdline`)).toString().split('\0');
  const links = (await fs.readdir(`/proc/${pid}/fd`)).map((fd) => ({ fd, link: readlinkSync(`/proc/${pid}/fd/${fd}`) }));
  const memfds = links.filter((l) => l.link.startsWith('/memfd:'));
  assert.ok(memfds.length === 0 || (memfds.length === 1 && memfds[0]!.fd === '4'), `memfds: ${JSON.stringify(memfds)}`);
  return { pid, argv, fd4: memfds[0]?.link };
}

/** Starts a created container and waits for its exit code. */
async function runCreated(driver: RuncDriver, c: Created): Promise<number> {
  const exited = c.conn.waitExited();
  await driver.start(c.id, c.paths, c.conn);
  return (await exited).exitCode;
}

describe('runc runs from a sealed in-memory copy of itself', { skip }, () => {
  let h: Harness;
  before(async () => {
    h = await makeHarness();
  });
  after(async () => {
    await h.cleanup();
  });

  test('the monitor is handed the copy, nobody can write to it, and the monitor lets go of it once runc runs', async () => {
    const c = await createContainer(h, runtimeConfig(h, newId(), { args: ['sleep', '100'] }));
    try {
      const monitor = await waitingMonitor(h.driver, c);
      assert.equal(monitor.fd4, '/memfd:runc (deleted)');
      assert.deepEqual(monitor.argv.slice(monitor.argv.indexOf('--runtime-fd'), monitor.argv.indexOf('--runtime-fd') + 2), ['--runtime-fd', '4']);
      // runc's Go runtime on one P (fewer threads, fewer page faults), unless the daemon's environment says otherwise.
      if (process.env.GOMAXPROCS === undefined) assert.equal(monitor.argv[monitor.argv.indexOf('--runtime-env') + 1], 'GOMAXPROCS=1');
      // What a container would try through /proc/<runc pid>/exe (CVE-2019-5736): the seals refuse it.
      const rw = await fs.open(`/proc/${monitor.pid}/fd/4`, 'r+');
      try {
        await assert.rejects(rw.write('\x7fELF-overwritten', 0), { code: 'EPERM' });
        await assert.rejects(rw.truncate(0), { code: 'EPERM' });
      } finally {
        await rw.close();
      }
      assert.equal((await fs.readFile(`/proc/${monitor.pid}/fd/4`)).length, statSync('/usr/sbin/runc').size);
      await h.driver.start(c.id, c.paths, c.conn);
      await assert.rejects(fs.readlink(`/proc/${monitor.pid}/fd/4`), { code: 'ENOENT' }, 'closed once runc was started');

      // runc exec goes the same way.
      const execId = newId();
      await h.driver.exec(c.id, execId, { args: ['true'], env: [], cwd: '/', user: { uid: 0, gid: 0 } }, { tty: false, openStdin: false });
      assert.equal((await waitingMonitor(h.driver, c, execId)).fd4, '/memfd:runc (deleted)');
    } finally {
      c.conn.close();
      await h.driver.delete(c.id);
    }
  });

  test('a runc binary that changes on disk is copied again; one that others may write runs from its path', async () => {
    const binDir = path.join(h.dir, 'bin');
    const runc = path.join(binDir, 'runc');
    await fs.mkdir(binDir);
    await fs.copyFile('/usr/sbin/runc', runc);
    await fs.chmod(runc, 0o755);
    const driver = new RuncDriver({ runtimeRoot: path.join(h.dir, 'runc'), execRoot: path.join(h.dir, 'x2'), runcBinary: runc });
    const h2: Harness = { ...h, driver };
    const runOnce = async (): Promise<{ fd4: string | undefined; argv: string[]; ino: bigint | undefined; size: bigint | undefined }> => {
      const c = await createContainer(h2, runtimeConfig(h2, newId(), { args: ['true'] }));
      try {
        const monitor = await waitingMonitor(driver, c);
        const st = monitor.fd4 ? statSync(`/proc/${monitor.pid}/fd/4`, { bigint: true }) : undefined;
        assert.equal(await runCreated(driver, c), 0);
        return { fd4: monitor.fd4, argv: monitor.argv, ino: st?.ino, size: st?.size };
      } finally {
        c.conn.close();
        await driver.delete(c.id);
      }
    };

    const first = await runOnce();
    assert.equal(first.fd4, '/memfd:runc (deleted)');
    assert.equal((await runOnce()).ino, first.ino, 'the same copy while the file is unchanged');

    // An upgrade: a new file renamed over the old one (one more byte: ELF ignores what follows its sections).
    const next = path.join(binDir, 'runc.new');
    await fs.copyFile('/usr/sbin/runc', next);
    await fs.appendFile(next, '\0');
    await fs.chmod(next, 0o755);
    await fs.rename(next, runc);
    const upgraded = await runOnce();
    assert.equal(upgraded.fd4, '/memfd:runc (deleted)');
    assert.notEqual(upgraded.ino, first.ino);
    assert.equal(upgraded.size, first.size! + 1n);

    await fs.chmod(runc, 0o757);
    const unsafe = await runOnce();
    assert.equal(unsafe.fd4, undefined);
    assert.ok(!unsafe.argv.includes('--runtime-fd'));
  });
});
