import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { pythonDockerSkipReason, runPythonDocker } from '../helpers/python-docker';

const skip = needsRoot('needs root (runc, overlay mounts)') || pythonDockerSkipReason();

/** Debian's python3-docker 5.0.3 against a real berthd: the flows where it differs from the Go clients. */
describe('python3-docker against berthd', { skip }, () => {
  let daemon: TestDaemon;

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('exec_run returns every exec\'s output (the 101 must not share a read with the first frame)', async () => {
    const outputs = await runPythonDocker<Array<[number, string]>>(
      daemon.host,
      `
container = client.containers.run('busybox', 'sleep 1000', detach=True)
results = []
for _ in range(24):
    r = container.exec_run(['echo', 'hello'])
    results.append([r.exit_code, r.output.decode()])
container.remove(force=True)
print(json.dumps(results))
`,
    );
    assert.equal(outputs.length, 24);
    assert.deepEqual(outputs, Array.from({ length: 24 }, () => [0, 'hello\n']));
  });

  it('containers.run returns the output: json-file is the default log driver, as in dockerd', async () => {
    const result = await runPythonDocker<{ output: string; left: number; driver: string; logConfig: { Type: string; Config: Record<string, string> } }>(
      daemon.host,
      `
output = client.containers.run('busybox', 'echo hello world', remove=True)
left = len(client.containers.list(all=True))
created = client.containers.create('busybox', 'true')
log_config = created.attrs['HostConfig']['LogConfig']
created.remove()
print(json.dumps({'output': output.decode(), 'left': left, 'driver': client.info()['LoggingDriver'], 'logConfig': log_config}))
`,
    );
    assert.equal(result.output, 'hello world\n');
    assert.equal(result.left, 0, 'remove=True removed the container');
    assert.equal(result.driver, 'json-file');
    assert.deepEqual(result.logConfig, { Type: 'json-file', Config: {} });
  });

  it('containers.run with a log driver and options; an unknown driver is refused with dockerd\'s 400', async () => {
    const result = await runPythonDocker<{ jsonFile: string; local: string | null; status: number; message: string }>(
      daemon.host,
      `
from docker.types import LogConfig
json_file = client.containers.run('busybox', 'echo rotated', remove=True, log_config=LogConfig(type='json-file', config={'max-size': '1k', 'max-file': '2'}))
# docker-py reads the output back from json-file and journald only, as against dockerd.
local = client.containers.run('busybox', 'echo local', remove=True, log_config=LogConfig(type='local'))
try:
    client.containers.create('busybox', 'true', log_config=LogConfig(type='nosuchdriver'))
    status, message = 0, ''
except docker.errors.APIError as e:
    status, message = e.status_code, e.explanation
print(json.dumps({'jsonFile': json_file.decode(), 'local': local, 'status': status, 'message': message}))
`,
    );
    assert.equal(result.jsonFile, 'rotated\n');
    assert.equal(result.local, null);
    assert.equal(result.status, 400);
    assert.equal(result.message, 'error looking up logging plugin nosuchdriver: plugin "nosuchdriver" not found');
  });
});
