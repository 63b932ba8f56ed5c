import { after, before, describe, it } from 'node:test';
import { DEFAULT_RUNTIME_NAME } from '../helpers/runtime';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { apiRequest, bootstrapBusybox, isRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';

const skip = !isRoot ? 'needs root (runc, mounts)' : false;

interface Inspect {
  Id: string;
  State: { Status: string; Running: boolean; Paused: boolean; ExitCode: number; Error: string };
}

/** Fills the file system holding `dir` to the last byte; returns the filler to delete. */
async function fillDisk(dir: string): Promise<string> {
  const filler = path.join(dir, 'filler');
  const handle = await fs.open(filler, 'w');
  try {
    for (const size of [1 << 20, 4096, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          await handle.write(chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    await handle.close();
  }
  return filler;
}

/**
 * Exit recording under faults: the data disk full when a container exits (the exit is
 * retried, kept in the exec root meanwhile, and survives a daemon crash), and a daemon
 * killed while a commit holds the container paused.
 */
describe('exit recording on a full disk, and commit pauses across a crash', { skip }, () => {
  let daemon: TestDaemon;
  let control: string;
  const api = (method: string, url: string, body?: unknown) => apiRequest(daemon.socket, method, url, body);
  const inspect = async (id: string) => JSON.parse((await api('GET', `/containers/${id}/json`)).body) as Inspect;
  /** A container that exits with 5 once `go-<name>` appears in the control dir. */
  const startExiter = async (name: string) => {
    const res = await api('POST', `/containers/create?name=${name}`, {
      Image: 'busybox',
      Cmd: ['sh', '-c', `while [ ! -e /ctl/go-${name} ]; do sleep 0.05; done; exit 5`],
      HostConfig: { Binds: [`${control}:/ctl`] },
    });
    assert.equal(res.status, 201, res.body);
    const id = (JSON.parse(res.body) as { Id: string }).Id;
    assert.equal((await api('POST', `/containers/${id}/start`)).status, 204);
    return id;
  };

  /**
   * Fills the data root's file system, then appends to the container journal (renames of a
   * scratch container) until an append fails too: a journal's last page may have room left.
   */
  let scratch = 'scratch-a';
  const fillDataRoot = async (): Promise<string> => {
    const filler = await fillDisk(daemon.dataRoot);
    for (let i = 0; ; i++) {
      const next = scratch === 'scratch-a' ? 'scratch-b' : 'scratch-a';
      const res = await api('POST', `/containers/${scratch}/rename?name=${next}`);
      if (res.status !== 204) {
        assert.match(res.body, /ENOSPC/);
        break;
      }
      scratch = next;
      assert.ok(i < 1000, 'the container journal never filled up');
    }
    return filler;
  };

  before(async () => {
    daemon = await startTestDaemon({
      // The data root on its own small file system, so the test can fill it.
      prepare: async ({ dataRoot }) => {
        await fs.mkdir(dataRoot, { recursive: true });
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=96m,mode=0711', 'tmpfs', dataRoot]);
      },
    });
    control = path.join(daemon.root, 'ctl');
    await fs.mkdir(control);
    await bootstrapBusybox(daemon);
    assert.equal((await api('POST', '/containers/create?name=scratch-a', { Image: 'busybox' })).status, 201);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('retries recording an exit while the disk is full; wait answers once it is recorded', async () => {
    const id = await startExiter('full');
    const filler = await fillDataRoot();
    let waited: { status: number; body: string } | undefined;
    const wait = api('POST', `/containers/${id}/wait`).then((res) => (waited = res));
    await fs.writeFile(path.join(control, 'go-full'), '');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(waited, undefined, 'wait must not answer before the exit is recorded');
    assert.equal((await inspect(id)).State.Status, 'running');
    assert.match(await daemon.logs(), /recording a container exit failed, will retry.*ENOSPC/);

    await fs.rm(filler);
    const res = await wait;
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.body) as { StatusCode: number }).StatusCode, 5);
    const state = (await inspect(id)).State;
    assert.equal(state.Status, 'exited');
    assert.equal(state.ExitCode, 5);
    assert.equal(state.Error, '');
  });

  it('a daemon restarted after an unrecorded exit records the real exit code', async () => {
    const id = await startExiter('crash');
    const filler = await fillDataRoot();
    await fs.writeFile(path.join(control, 'go-crash'), '');
    await new Promise((r) => setTimeout(r, 1000));
    assert.match(await daemon.logs(), new RegExp(`recording a container exit failed, will retry.*${id}`));
    await daemon.crash();
    await fs.rm(filler);
    await daemon.restart();
    const state = (await inspect(id)).State;
    assert.equal(state.Status, 'exited');
    assert.equal(state.ExitCode, 5, 'the exit code from the exit file, not 255');
    assert.equal(state.Error, '');
  });

  it('a daemon killed while a commit holds the container paused unpauses it on restart', async () => {
    // A layer big enough that the commit takes a while (random data does not compress).
    const res = await api('POST', '/containers/create?name=committed', {
      Image: 'busybox',
      Cmd: ['sh', '-c', 'head -c 40000000 /dev/urandom > /big && echo ready; exec sleep 1000'],
    });
    assert.equal(res.status, 201, res.body);
    const id = (JSON.parse(res.body) as { Id: string }).Id;
    assert.equal((await api('POST', `/containers/${id}/start`)).status, 204);
    for (let i = 0; !(await api('GET', `/containers/${id}/logs?stdout=1`)).body.includes('ready'); i++) {
      assert.ok(i < 300, 'the container never got ready');
      await new Promise((r) => setTimeout(r, 100));
    }
    let committed = false;
    void api('POST', `/commit?container=${id}&repo=snap&pause=1`).then(() => (committed = true), () => undefined);
    const runcState = () => JSON.parse(execFileSync(DEFAULT_RUNTIME_NAME, ['--root', path.join(daemon.execRoot, DEFAULT_RUNTIME_NAME), 'state', id]).toString()) as { status: string };
    for (let i = 0; runcState().status !== 'paused'; i++) {
      assert.ok(i < 200 && !committed, 'the commit never paused the container');
      await new Promise((r) => setTimeout(r, 10));
    }
    await daemon.crash();
    assert.equal(committed, false, 'the daemon died during the commit');
    assert.equal(runcState().status, 'paused');

    await daemon.restart();
    const state = (await inspect(id)).State;
    assert.equal(state.Status, 'running');
    assert.equal(state.Paused, false);
    assert.equal(runcState().status, 'running');
    await fs.access(path.join(daemon.dataRoot, 'containers', id, 'paused-by-berth')).then(
      () => assert.fail('the marker is left'),
      () => undefined,
    );
  });
});
