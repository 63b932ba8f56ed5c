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
});
