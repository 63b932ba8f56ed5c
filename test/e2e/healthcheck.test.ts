import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { berth, docker, DOCKER_CLIENTS, runCommand } from '../helpers/cli';
import type { ContainerInspect } from '../../src/api/types/containers';

const skip = needsRoot('needs root (runc, overlay mounts)');
const noDocker = DOCKER_CLIENTS.length === 0 ? 'no docker CLI installed' : false;

async function inspect(daemon: TestDaemon, name: string): Promise<ContainerInspect> {
  const r = await apiRequest(daemon.socket, 'GET', `/containers/${name}/json`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as ContainerInspect;
}

/** Polls inspect until the health status is `status` (probes run every second here). */
async function waitForHealth(daemon: TestDaemon, name: string, status: string, timeoutMs = 30_000): Promise<ContainerInspect> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await inspect(daemon, name);
    if (c.State.Health?.Status === status) return c;
    if (Date.now() > deadline) assert.fail(`${name} never became ${status}: ${JSON.stringify(c.State)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** HEALTHCHECK as dockerd runs it (moby daemon/health.go), checked on real containers. */
describe('health checks', { skip }, () => {
  let daemon: TestDaemon;

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('a failing check turns unhealthy after its retries, with the probes in inspect, (unhealthy) in ps and a health_status event', async () => {
    const since = Math.floor(Date.now() / 1000);
    const run = await berth(daemon.host, ['run', '-d', '--name', 'sick', '--health-cmd', 'echo out; echo err >&2; exit 1', '--health-interval', '1s', '--health-retries', '2', 'busybox', 'sleep', '1000']);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /Healthcheck/);
    const early = await inspect(daemon, 'sick');
    assert.equal(early.State.Health?.Status, 'starting');
    const c = await waitForHealth(daemon, 'sick', 'unhealthy');
    assert.equal(c.State.Health!.FailingStreak, 2);
    assert.equal(c.State.Health!.Log.length, 2);
    for (const entry of c.State.Health!.Log) {
      assert.equal(entry.ExitCode, 1);
      assert.match(entry.Output, /^(out\nerr\n|err\nout\n)$/);
      assert.ok(Date.parse(entry.End) >= Date.parse(entry.Start));
    }
    const ps = await berth(daemon.host, ['ps', '--filter', 'name=sick', '--format', '{{.Status}}']);
    assert.match(ps.stdout, /^Up .* \(unhealthy\)\n$/);
    // moby's fuzzy match: event=health_status selects "health_status: unhealthy".
    const filters = encodeURIComponent(JSON.stringify({ event: ['health_status'], container: ['sick'] }));
    const r = await apiRequest(daemon.socket, 'GET', `/events?since=${since}&until=${Math.ceil(Date.now() / 1000)}&filters=${filters}`);
    const lines = r.body.trim().split('\n');
    assert.equal(lines.length, 1, r.body);
    const event = JSON.parse(lines[0]!) as { Action: string; Actor: { ID: string; Attributes: Record<string, string> } };
    assert.equal(event.Action, 'health_status: unhealthy');
    assert.equal(event.Actor.ID, c.Id);
    assert.equal(event.Actor.Attributes.name, 'sick');
    // Each probe is an exec in the container, with dockerd's exec events.
    const execFilters = encodeURIComponent(JSON.stringify({ event: ['exec_create'], container: ['sick'] }));
    const execs = await apiRequest(daemon.socket, 'GET', `/events?since=${since}&until=${Math.ceil(Date.now() / 1000)}&filters=${execFilters}`);
    const execLines = execs.body.trim().split('\n').map((l) => (JSON.parse(l) as { Action: string }).Action);
    assert.ok(execLines.length >= 2, execs.body);
    assert.equal(execLines[0], 'exec_create: /bin/sh -c echo out; echo err >&2; exit 1');
  });

  it('a passing check turns healthy; ps --filter health= selects by status and refuses an unknown one; a stopped container reads unhealthy', async () => {
    assert.equal((await berth(daemon.host, ['run', '-d', '--name', 'fine', '--health-cmd', 'true', '--health-interval', '1s', 'busybox', 'sleep', '1000'])).code, 0);
    assert.equal((await berth(daemon.host, ['run', '-d', '--name', 'plain', 'busybox', 'sleep', '1000'])).code, 0);
    const c = await waitForHealth(daemon, 'fine', 'healthy');
    assert.deepEqual(c.State.Health!.Log.map((e) => [e.ExitCode, e.Output]), [[0, '']]);
    const byHealth = async (value: string) => (await berth(daemon.host, ['ps', '-a', '--filter', `health=${value}`, '--format', '{{.Names}}'])).stdout.trim().split('\n').filter(Boolean).sort();
    assert.deepEqual(await byHealth('healthy'), ['fine']);
    assert.ok((await byHealth('none')).includes('plain'));
    assert.ok(!(await byHealth('none')).includes('fine'));
    const bad = await apiRequest(daemon.socket, 'GET', `/containers/json?filters=${encodeURIComponent(JSON.stringify({ health: ['bogus'] }))}`);
    assert.equal(bad.status, 400);
    assert.equal((JSON.parse(bad.body) as { message: string }).message, 'Unrecognised filter value for health: bogus');
    assert.equal((await berth(daemon.host, ['stop', '-t', '1', 'fine'])).code, 0);
    const stopped = await inspect(daemon, 'fine');
    // As dockerd: the monitor's end leaves the status unhealthy and the log as it was (the
    // streak may count a probe that met the dying container, in dockerd too).
    assert.equal(stopped.State.Health?.Status, 'unhealthy');
    assert.ok(stopped.State.Health!.Log.some((e) => e.ExitCode === 0), JSON.stringify(stopped.State.Health));
    assert.deepEqual(await byHealth('unhealthy'), ['fine', 'sick']);
    assert.equal((await berth(daemon.host, ['start', 'fine'])).code, 0);
    const restarted = await inspect(daemon, 'fine');
    assert.equal(restarted.State.Health?.Status, 'starting', 'a start starts over');
    await waitForHealth(daemon, 'fine', 'healthy');
  });

  it('a probe past its timeout is killed and recorded as exit -1 with moby\'s message', async () => {
    assert.equal((await berth(daemon.host, ['run', '-d', '--name', 'slow', '--health-cmd', 'sleep 30', '--health-interval', '1s', '--health-timeout', '500ms', '--health-retries', '1', 'busybox', 'sleep', '1000'])).code, 0);
    const c = await waitForHealth(daemon, 'slow', 'unhealthy');
    const entry = c.State.Health!.Log[0]!;
    assert.equal(entry.ExitCode, -1);
    assert.equal(entry.Output, 'Health check exceeded timeout (500ms)');
    assert.ok(Date.parse(entry.End) - Date.parse(entry.Start) < 5000, 'the probe was cut at its timeout');
    const top = await apiRequest(daemon.socket, 'GET', '/containers/slow/top');
    assert.doesNotMatch(top.body, /sleep 30/, 'the timed-out probe was killed');
  });

  it("the image's HEALTHCHECK applies (shown in Config.Healthcheck), --no-healthcheck turns it off", async () => {
    // The commit body's config becomes the image's (as dockerd's commit): an image with a HEALTHCHECK.
    const commit = await apiRequest(daemon.socket, 'POST', '/commit?container=plain&repo=withcheck&tag=v1', { Healthcheck: { Test: ['CMD', 'true'], Interval: 1e9 } });
    assert.equal(commit.status, 201, commit.body);
    assert.equal((await berth(daemon.host, ['run', '-d', '--name', 'fromimage', 'withcheck:v1', 'sleep', '1000'])).code, 0);
    const c = await waitForHealth(daemon, 'fromimage', 'healthy');
    assert.deepEqual(c.Config.Healthcheck?.Test, ['CMD', 'true']);
    assert.equal((await berth(daemon.host, ['run', '-d', '--name', 'nocheck', '--no-healthcheck', 'withcheck:v1', 'sleep', '1000'])).code, 0);
    const off = await inspect(daemon, 'nocheck');
    assert.deepEqual(off.Config.Healthcheck?.Test, ['NONE']);
    assert.equal(off.State.Health, undefined);
  });

  it('probes resume after a daemon restart', async () => {
    assert.equal((await berth(daemon.host, ['run', '-d', '--name', 'survivor', '--health-cmd', 'test -e /tmp/ok', '--health-interval', '1s', '--health-retries', '1', 'busybox', 'sleep', '1000'])).code, 0);
    await waitForHealth(daemon, 'survivor', 'unhealthy');
    await daemon.crash();
    await daemon.restart();
    assert.equal((await berth(daemon.host, ['exec', 'survivor', 'touch', '/tmp/ok'])).code, 0);
    const c = await waitForHealth(daemon, 'survivor', 'healthy');
    assert.equal(c.State.Health!.Log.at(-1)!.ExitCode, 0);
  });

  it("docker-compose's depends_on condition service_healthy waits for the health status", { skip: existsSync('/usr/bin/docker-compose') ? false : 'no docker-compose' }, async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hc-compose-'));
    const compose = (args: string[]) => runCommand('/usr/bin/docker-compose', ['-H', daemon.host, '-p', 'hc', '-f', path.join(dir, 'docker-compose.yml'), ...args], { timeoutMs: 120_000 });
    try {
      await fs.writeFile(
        path.join(dir, 'docker-compose.yml'),
        ['version: "2.1"', 'services:', '  db:', '    image: busybox', '    command: sh -c "sleep 2; touch /tmp/ready; sleep 1000"', '    healthcheck:', '      test: ["CMD", "test", "-e", "/tmp/ready"]', '      interval: 1s', '      retries: 30',
          '  app:', '    image: busybox', '    command: sleep 1000', '    depends_on:', '      db:', '        condition: service_healthy', ''].join('\n'),
      );
      const up = await compose(['up', '-d']);
      assert.equal(up.code, 0, up.stderr);
      const db = await inspect(daemon, 'hc_db_1');
      const app = await inspect(daemon, 'hc_app_1');
      assert.equal(db.State.Health?.Status, 'healthy');
      const healthyAt = Date.parse(db.State.Health!.Log.find((e) => e.ExitCode === 0)!.End);
      assert.ok(Date.parse(app.State.StartedAt) >= healthyAt, `app started ${app.State.StartedAt}, db healthy at ${new Date(healthyAt).toISOString()}`);
    } finally {
      await compose(['down', '-t', '1']);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('the docker CLI shows the status in ps and reads State.Health', { skip: noDocker }, async () => {
    for (const client of DOCKER_CLIENTS) {
      const ps = await docker(client, daemon.host, ['ps', '--filter', 'health=healthy', '--format', '{{.Names}} {{.Status}}']);
      assert.equal(ps.code, 0, ps.stderr);
      assert.match(ps.stdout, /^fromimage Up .* \(healthy\)$/m);
      const health = await docker(client, daemon.host, ['inspect', '--format', '{{.State.Health.Status}} {{len .State.Health.Log}}', 'fromimage']);
      assert.match(health.stdout, /^healthy [1-5]\n$/);
    }
  });
});
