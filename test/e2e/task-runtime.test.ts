import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';

const skip = needsRoot('needs root (runc, overlay mounts, cgroups)');

interface Inspect {
  Id: string;
  State: { Status: string; ExitCode: number; OOMKilled: boolean };
}

/** The runtime boundary through the API: OOM reporting, log rotation options, log drivers. */
describe('task runtime through the API', { skip }, () => {
  let daemon: TestDaemon;
  const api = (method: string, url: string, body?: unknown) => apiRequest(daemon.socket, method, url, body);
  const create = async (body: Record<string, unknown>) => {
    const res = await api('POST', '/containers/create', { Image: 'busybox', ...body });
    assert.equal(res.status, 201, res.body);
    return (JSON.parse(res.body) as { Id: string }).Id;
  };
  const runToEnd = async (id: string) => {
    assert.equal((await api('POST', `/containers/${id}/start`)).status, 204);
    const wait = await api('POST', `/containers/${id}/wait`);
    return (JSON.parse(wait.body) as { StatusCode: number }).StatusCode;
  };
  const inspect = async (id: string) => JSON.parse((await api('GET', `/containers/${id}/json`)).body) as Inspect;

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('an OOM kill exits 137 with State.OOMKilled true, and an oom event', async () => {
    const since = Math.floor(Date.now() / 1000);
    const id = await create({ Cmd: ['tail', '/dev/zero'], HostConfig: { Memory: 16 * 1024 * 1024 } });
    assert.equal(await runToEnd(id), 137);
    const state = (await inspect(id)).State;
    assert.equal(state.ExitCode, 137);
    assert.equal(state.OOMKilled, true);
    const events = await api('GET', `/events?since=${since}&until=${Math.floor(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ container: [id] }))}`);
    const actions = events.body.trim().split('\n').map((line) => (JSON.parse(line) as { Action: string }).Action);
    assert.ok(actions.indexOf('oom') >= 0 && actions.indexOf('oom') < actions.indexOf('die'), actions.join(','));

    // A plain SIGKILL is no OOM kill; a restart clears the flag.
    const killed = await create({ Cmd: ['sleep', '100'], HostConfig: { Memory: 16 * 1024 * 1024 } });
    assert.equal((await api('POST', `/containers/${killed}/start`)).status, 204);
    assert.equal((await api('POST', `/containers/${killed}/kill`)).status, 204);
    assert.equal((await inspect(killed)).State.ExitCode, 137);
    assert.equal((await inspect(killed)).State.OOMKilled, false);
  });

  it('an OOM kill during an exec: an oom event at once, State.OOMKilled at the exit (as dockerd 20.10)', async () => {
    const execRun = async (id: string, cmd: string[]) => {
      const created = await api('POST', `/containers/${id}/exec`, { Cmd: cmd, AttachStdout: true, AttachStderr: true });
      const execId = (JSON.parse(created.body) as { Id: string }).Id;
      await api('POST', `/exec/${execId}/start`, { Detach: false });
      return (JSON.parse((await api('GET', `/exec/${execId}/json`)).body) as { ExitCode: number }).ExitCode;
    };
    const ooms = async (id: string, since: number) => {
      const res = await api('GET', `/events?since=${since}&until=${Math.floor(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ container: [id], event: ['oom'] }))}`);
      return res.body.trim().split('\n').filter(Boolean).length;
    };

    // The exec's own process is the one killed; the container runs on, and its exit says so.
    const since = Math.floor(Date.now() / 1000);
    const id = await create({ Cmd: ['sleep', '1000'], HostConfig: { Memory: 16 * 1024 * 1024 } });
    assert.equal((await api('POST', `/containers/${id}/start`)).status, 204);
    assert.equal(await execRun(id, ['tail', '/dev/zero']), 137);
    assert.equal((await inspect(id)).State.Status, 'running');
    assert.equal(await ooms(id, since), 1, 'an oom event for the exec');
    assert.equal((await api('POST', `/containers/${id}/stop?t=1`)).status, 204);
    assert.equal((await inspect(id)).State.OOMKilled, true);

    // The container's own process is OOM-killed while an exec runs (and dies with it).
    const busy = await create({ Cmd: ['sh', '-c', 'sleep 1; exec tail /dev/zero'], HostConfig: { Memory: 16 * 1024 * 1024 } });
    assert.equal((await api('POST', `/containers/${busy}/start`)).status, 204);
    assert.equal(await execRun(busy, ['sleep', '100']), 137);
    const wait = await api('POST', `/containers/${busy}/wait`);
    assert.equal((JSON.parse(wait.body) as { StatusCode: number }).StatusCode, 137);
    const state = (await inspect(busy)).State;
    assert.equal(state.ExitCode, 137);
    assert.equal(state.OOMKilled, true);
  });

  it('rotates the log by --log-opt max-size/max-file', async () => {
    const id = await create({
      // 40 records of 1000 bytes (the pause keeps them apart): 8 files' worth at 5k.
      Cmd: ['sh', '-c', 'i=0; while [ $i -lt 40 ]; do i=$((i+1)); printf "%0999d\\n" $i; sleep 0.02; done'],
      HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '5k', 'max-file': '3' } } },
    });
    assert.equal(await runToEnd(id), 0);
    const dir = path.join(daemon.dataRoot, 'containers', id);
    const logs = (await fs.readdir(dir)).filter((n) => n.startsWith('container.log')).sort();
    assert.deepEqual(logs, ['container.log', 'container.log.1', 'container.log.2']);
    for (const name of logs.slice(1)) {
      const size = (await fs.stat(path.join(dir, name))).size;
      assert.ok(size >= 5000 && size < 5000 + 2 * 1013, `${name}: ${size} bytes`);
    }
  });

  it('log driver none keeps no log file', async () => {
    const id = await create({ Cmd: ['echo', 'hello'], HostConfig: { LogConfig: { Type: 'none', Config: {} } } });
    assert.equal(await runToEnd(id), 0);
    const dir = path.join(daemon.dataRoot, 'containers', id);
    assert.equal((await fs.readdir(dir)).includes('container.log'), false);
  });

  it('refuses unknown log drivers and options with 400 and dockerd\'s message', async () => {
    const bad = await api('POST', '/containers/create', { Image: 'busybox', HostConfig: { LogConfig: { Type: 'syslog2', Config: {} } } });
    assert.equal(bad.status, 400);
    // dockerd 20.10's answer: an unknown name is looked up as a logging plugin.
    assert.equal((JSON.parse(bad.body) as { message: string }).message, 'error looking up logging plugin syslog2: plugin "syslog2" not found');
    const badOpt = await api('POST', '/containers/create', { Image: 'busybox', HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': 'lots' } } } });
    assert.equal(badOpt.status, 400);
    assert.match((JSON.parse(badOpt.body) as { message: string }).message, /invalid size: 'lots'/);
  });
});
