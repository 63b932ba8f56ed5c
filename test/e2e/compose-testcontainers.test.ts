import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { docker, runCommand } from '../helpers/cli';
import type { TestcontainersReport } from '../helpers/testcontainers-run';

const COMPOSE = '/usr/bin/docker-compose';
const DOCKER_28 = '/usr/local/bin/docker';
const skip = needsRoot('needs root (runc, overlay mounts, network namespaces)') || (!existsSync(COMPOSE) ? 'Debian docker-compose not installed' : !existsSync(DOCKER_28) ? 'docker CLI 28 not installed' : false);

/**
 * The two clients that turn containers into services, against a real berthd in its own
 * network namespace: Debian's docker-compose 1.29.2 (a project's default network, a service
 * reached by its name, a published port, depends_on with condition: service_healthy, up -d,
 * ps, logs, down -v leaving nothing) and the testcontainers npm package (GenericContainer with
 * an exposed port and an HTTP wait strategy, a Network with an alias).
 */
describe('docker-compose v1 and testcontainers against berthd', { skip }, () => {
  let daemon: TestDaemon;
  let project: string;
  const d = (...args: string[]) => docker(DOCKER_28, daemon.host, args, { timeoutMs: 60_000 });
  const compose = async (...args: string[]) => {
    const r = await runCommand(COMPOSE, ['--no-ansi', '-p', 'proj', ...args], { env: { DOCKER_HOST: daemon.host, COMPOSE_INTERACTIVE_NO_CLI: '1' }, timeoutMs: 180_000 });
    assert.equal(r.code, 0, `docker-compose ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout + r.stderr;
  };

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
    project = await fs.mkdtemp(path.join(os.tmpdir(), 'bt-compose-'));
  });
  after(async () => {
    await daemon?.stop();
    if (project) await fs.rm(project, { recursive: true, force: true });
  });

  it('docker-compose: up -d with a healthy dependency, service names over the default network, a published port, ps, logs, down -v', async () => {
    await fs.writeFile(
      path.join(project, 'docker-compose.yml'),
      `version: "2.4"
services:
  web:
    image: busybox
    command: sh -c 'sleep 2; echo hello-from-web > /www/index.html; exec httpd -f -p 80 -h /www'
    ports:
      - "18200:80"
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://localhost/"]
      interval: 1s
      timeout: 2s
      retries: 30
    volumes:
      - data:/www
  client:
    image: busybox
    command: sh -c 'while true; do wget -q -O- http://web/ 2>&1; sleep 1; done'
    depends_on:
      web:
        condition: service_healthy
volumes:
  data: {}
`,
    );
    const cwd = process.cwd();
    process.chdir(project);
    try {
      const up = await compose('up', '-d', '--scale', 'client=2');
      assert.match(up, /Creating network "proj_default" with the default driver/);
      assert.match(up, /Creating volume "proj_data" with default driver/);
      const ps = await compose('ps');
      assert.match(ps, /proj_web_1 .* Up \(healthy\) .* 0\.0\.0\.0:18200->80\/tcp/);
      assert.match(ps, /proj_client_1 .* Up/);
      assert.match(ps, /proj_client_2 .* Up/);
      // The clients started only once web was healthy: their first line is already the page.
      let logs = '';
      for (let attempt = 0; attempt < 20 && (logs.match(/hello-from-web/g) ?? []).length < 4; attempt++) {
        await new Promise((r) => setTimeout(r, 500));
        logs = await compose('logs', '--no-color', 'client');
      }
      assert.match(logs, /client_1 +\| hello-from-web/);
      assert.match(logs, /client_2 +\| hello-from-web/);
      assert.doesNotMatch(logs, /can't connect|bad address|error/i, 'a client ran before web was healthy');
      // The service name has both clients' addresses (compose's service alias, round robin).
      const lookup = (await d('exec', 'proj_web_1', 'nslookup', 'client')).stdout;
      assert.equal((lookup.match(/^Address: \d+\.\d+\.\d+\.\d+$/gm) ?? []).length, 2, lookup);
      const curl = daemon.netns!.command('curl', ['-s', '-m', '5', 'http://127.0.0.1:18200/']);
      assert.equal((await runCommand(curl.file, curl.args)).stdout.trim(), 'hello-from-web', 'the published port');
      await compose('down', '-v');
    } finally {
      process.chdir(cwd);
    }
    assert.equal((await d('ps', '-aq')).stdout.trim(), '');
    assert.equal((await d('network', 'ls', '--filter', 'name=proj_', '-q')).stdout.trim(), '');
    assert.equal((await d('volume', 'ls', '-q')).stdout.trim(), '');
  });

  it('testcontainers: GenericContainer with an exposed port and an HTTP wait strategy, reached over its mapped port; a Network alias', async () => {
    const command = daemon.netns!.command(process.execPath, [require.resolve('../helpers/testcontainers-run')]);
    const r = await runCommand(command.file, command.args, { env: { DOCKER_HOST: daemon.host, TESTCONTAINERS_RYUK_DISABLED: 'true' }, timeoutMs: 180_000 });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as TestcontainersReport;
    assert.equal(report.body.trim(), 'hello-testcontainers');
    assert.equal(report.byAlias.trim(), 'hello-testcontainers');
    assert.ok(report.mappedPort > 0);
    // stop() removed them and the network.
    const left = (await d('ps', '-aq', '--no-trunc')).stdout;
    for (const id of report.ids) assert.ok(!left.includes(id), `${id} left behind`);
    assert.equal((await d('network', 'ls', '--filter', `name=${report.networkName}`, '-q')).stdout.trim(), '');
  });
});
