import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { HungRunc, isAlive, makeHungRunc } from '../helpers/hung-runc';

const skip = needsRoot('needs root (runc, overlay mounts, cgroups)');
/** The daemon's --runtime-timeout: every runc call (and a start) ends within it. */
const RUNTIME_TIMEOUT_MS = 3000;

interface Inspect {
  State: { Status: string; ExitCode: number; Error: string; Pid: number };
}

/**
 * A hung runc (a wrapper that sleeps on chosen subcommands, selected with berthd's
 * --runtime-path) must not hold a container's lock or leave processes behind: each call is
 * killed at the runtime timeout and answered with a clear error, SIGKILL works without
 * runc, and a start that times out kills what it started.
 */
describe('a hung runc', { skip }, () => {
  let daemon: TestDaemon;
  let runc: HungRunc;
  const api = (method: string, url: string, body?: unknown) => apiRequest(daemon.socket, method, url, body);
  const message = (body: string) => (JSON.parse(body) as { message: string }).message;
  const inspect = async (id: string) => JSON.parse((await api('GET', `/containers/${id}/json`)).body) as Inspect;
  const runDetached = async (cmd: string[]) => {
    const created = await api('POST', '/containers/create', { Image: 'busybox', Cmd: cmd });
    assert.equal(created.status, 201, created.body);
    const id = (JSON.parse(created.body) as { Id: string }).Id;
    const started = await api('POST', `/containers/${id}/start`);
    assert.equal(started.status, 204, started.body);
    return id;
  };
  /** The hung runc calls of `subcommand` were killed (none is left sleeping). */
  const assertNoHungLeft = async (subcommand: string) => {
    const pids = await runc.hungPids(subcommand);
    assert.ok(pids.length > 0, `runc ${subcommand} never hung`);
    for (const pid of pids) assert.equal(await isAlive(pid), false, `hung runc ${subcommand} (pid ${pid}) is still there`);
  };
  const cgroupProcs = async (id: string) => {
    const text = await fs.readFile(`/sys/fs/cgroup/pids/berth/${id}/cgroup.procs`, 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean);
  };
  /** Monitors still serving the container's task dir. */
  const monitorsOf = async (id: string) => {
    const found: number[] = [];
    for (const entry of await fs.readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes('berth-monitor') && cmdline.includes(path.join(daemon.execRoot, id.slice(0, 12)))) found.push(Number(entry));
    }
    return found;
  };

  before(async () => {
    daemon = await startTestDaemon({
      prepare: async ({ root }) => {
        runc = await makeHungRunc(path.join(root, 'hung-runc'));
      },
      args: ({ root }) => ['--runtime-path', path.join(root, 'hung-runc', 'runc'), '--runtime-timeout', `${RUNTIME_TIMEOUT_MS}ms`],
    });
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('/info names the runtime berthd runs', async () => {
    const info = JSON.parse((await api('GET', '/info')).body) as { Runtimes: { runc: { path: string } } };
    assert.equal(info.Runtimes.runc.path, path.join(daemon.root, 'hung-runc', 'runc'));
  });

  it('kill answers a clear error at the timeout, and the container lock is free again', async () => {
    const id = await runDetached(['sleep', '1000']);
    await runc.hang('kill');
    const res = await api('POST', `/containers/${id}/kill?signal=USR1`);
    assert.ok(res.status >= 500, `${res.status} ${res.body}`);
    assert.match(message(res.body), new RegExp(`^Cannot kill container: ${id}: .*kill ${id} 10: timed out after ${RUNTIME_TIMEOUT_MS} ms`));
    await assertNoHungLeft('kill');
    await runc.release('kill');
    // Operations that take the lock go through (they would wait forever behind a held lock).
    assert.equal((await api('POST', `/containers/${id}/pause`)).status, 204);
    assert.equal((await api('POST', `/containers/${id}/unpause`)).status, 204);
    assert.equal((await inspect(id)).State.Status, 'running');
    assert.equal((await api('DELETE', `/containers/${id}?force=1`)).status, 204);
  });

  it('stop and rm -f still end the container: SIGKILL goes to init directly when runc hangs', async () => {
    const stopped = await runDetached(['sleep', '1000']);
    const removed = await runDetached(['sleep', '1000']);
    await runc.hang('kill');
    const stop = await api('POST', `/containers/${stopped}/stop?t=30`);
    assert.equal(stop.status, 204, stop.body);
    const state = (await inspect(stopped)).State;
    assert.equal(state.Status, 'exited');
    assert.equal(state.ExitCode, 137);
    assert.deepEqual(await cgroupProcs(stopped), []);

    assert.equal((await api('DELETE', `/containers/${removed}?force=1`)).status, 204);
    assert.equal((await api('GET', `/containers/${removed}/json`)).status, 404);
    await assertNoHungLeft('kill');

    // Paused, with resume hanging too: init is thawed through its cgroup to take the SIGKILL.
    await runc.release('kill');
    const paused = await runDetached(['sleep', '1000']);
    assert.equal((await api('POST', `/containers/${paused}/pause`)).status, 204);
    await runc.hang('kill');
    await runc.hang('resume');
    assert.equal((await api('POST', `/containers/${paused}/stop?t=1`)).status, 204);
    assert.equal((await inspect(paused)).State.Status, 'exited');
    assert.deepEqual(await cgroupProcs(paused), []);
    await assertNoHungLeft('resume');
    await runc.release('resume');
    await runc.release('kill');
    assert.equal((await api('DELETE', `/containers/${paused}`)).status, 204);
    assert.equal((await api('DELETE', `/containers/${stopped}`)).status, 204);
  });

  it('a start that times out kills the container runc left running and records the failure', async () => {
    const created = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '1000'] });
    const id = (JSON.parse(created.body) as { Id: string }).Id;
    // runc starts the container, then never returns: the container runs, unknown to berth.
    await runc.hang('run', 'after');
    const res = await api('POST', `/containers/${id}/start`);
    assert.equal(res.status, 500, res.body);
    assert.match(message(res.body), new RegExp(`runc did not start ${id} within ${RUNTIME_TIMEOUT_MS} ms`));
    const state = (await inspect(id)).State;
    assert.equal(state.Status, 'exited');
    assert.equal(state.Pid, 0);
    assert.match(state.Error, /did not start/);
    assert.ok(state.ExitCode !== 0, `exit code ${state.ExitCode}`);
    await assertNoHungLeft('run');
    assert.deepEqual(await cgroupProcs(id), [], 'the container runc started is gone');
    assert.deepEqual(await monitorsOf(id), [], 'its monitor is gone');
    await assert.rejects(fs.access(path.join(daemon.execRoot, 'runc', id)), 'runc keeps no state for it');

    // Consistent: it starts again once runc answers, and is removed as usual.
    await runc.release('run');
    assert.equal((await api('POST', `/containers/${id}/start`)).status, 204);
    assert.equal((await inspect(id)).State.Status, 'running');
    assert.equal((await api('DELETE', `/containers/${id}?force=1`)).status, 204);
  });

  it('when runc delete hangs too, the container\'s processes are killed directly and its runc state cleaned up', async () => {
    const created = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '1000'] });
    const id = (JSON.parse(created.body) as { Id: string }).Id;
    await runc.hang('run', 'after');
    await runc.hang('delete');
    const res = await api('POST', `/containers/${id}/start`);
    assert.equal(res.status, 500, res.body);
    assert.equal((await inspect(id)).State.Status, 'exited');
    await assertNoHungLeft('run');
    await assertNoHungLeft('delete');
    assert.deepEqual(await cgroupProcs(id), [], 'the container runc started is gone');
    await assert.rejects(fs.access(`/sys/fs/cgroup/pids/berth/${id}`), 'its cgroup is removed');
    await assert.rejects(fs.access(path.join(daemon.execRoot, 'runc', id)), 'runc keeps no state for it');
    assert.deepEqual(await monitorsOf(id), []);
    await runc.release('run');
    await runc.release('delete');
    assert.equal((await api('DELETE', `/containers/${id}`)).status, 204);
  });

  it('an exec whose runc hangs fails with a clear error and leaves the container running', async () => {
    const id = await runDetached(['sleep', '1000']);
    await runc.hang('exec');
    const created = await api('POST', `/containers/${id}/exec`, { Cmd: ['true'] });
    const execId = (JSON.parse(created.body) as { Id: string }).Id;
    const res = await api('POST', `/exec/${execId}/start`, { Detach: true });
    assert.equal(res.status, 500, res.body);
    assert.match(message(res.body), /^OCI runtime exec failed: runc did not start .* within 3000 ms/);
    await assertNoHungLeft('exec');
    await runc.release('exec');
    assert.equal((JSON.parse((await api('GET', `/exec/${execId}/json`)).body) as { Running: boolean }).Running, false);
    assert.equal((await inspect(id)).State.Status, 'running');
    // runc exec starts the process, then hangs: the process must not stay behind.
    await runc.hang('exec', 'after');
    const started = await api('POST', `/containers/${id}/exec`, { Cmd: ['sleep', '777'] });
    const startedId = (JSON.parse(started.body) as { Id: string }).Id;
    assert.equal((await api('POST', `/exec/${startedId}/start`, { Detach: true })).status, 500);
    await runc.release('exec');
    const commands = await Promise.all((await cgroupProcs(id)).map((pid) => fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')));
    assert.deepEqual(
      commands.filter((c) => c.includes('777')),
      [],
      'the exec process runc left is killed',
    );
    const again = await api('POST', `/containers/${id}/exec`, { Cmd: ['true'] });
    assert.equal((await api('POST', `/exec/${(JSON.parse(again.body) as { Id: string }).Id}/start`, { Detach: true })).status, 200);
    assert.equal((await api('DELETE', `/containers/${id}?force=1`)).status, 204);
  });

  it('top stops its runc call when the client goes away', async () => {
    const id = await runDetached(['sleep', '1000']);
    await runc.hang('ps');
    const req = http.request({ socketPath: daemon.socket, method: 'GET', path: `/containers/${id}/top` });
    req.on('error', () => undefined);
    req.end();
    let pid: number | undefined;
    while (pid === undefined) {
      pid = (await runc.hungPids('ps'))[0];
      await new Promise((r) => setTimeout(r, 20));
    }
    const abortedAt = Date.now();
    req.destroy();
    while (await isAlive(pid)) await new Promise((r) => setTimeout(r, 20));
    // Killed by the client's abort, not by the runtime timeout.
    assert.ok(Date.now() - abortedAt < RUNTIME_TIMEOUT_MS / 2, `runc ps lived ${Date.now() - abortedAt} ms after the client left`);
    await runc.release('ps');
    assert.equal((await api('GET', `/containers/${id}/top`)).status, 200);
    assert.equal((await api('DELETE', `/containers/${id}?force=1`)).status, 204);
  });
});
