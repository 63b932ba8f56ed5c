import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiRequest, bootstrapBusybox, isRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';

const skip = !isRoot ? 'needs root (runc, overlay mounts)' : false;

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
      ['/commit?container=typed', { Labels: ['a'] }, /ContainerConfigWrapper\.Labels of type map\[string\]string$/],
    ];
    for (const [path, body, message] of cases) {
      const r = await apiRequest(daemon.socket, 'POST', path, body);
      assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${r.body}`);
      assert.match((JSON.parse(r.body) as { message: string }).message, message);
    }
    await apiRequest(daemon.socket, 'DELETE', '/containers/typed?force=1');
  });
});
