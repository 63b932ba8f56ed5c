import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { needsRoot, REPO_ROOT, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { berth, docker, DOCKER_CLIENTS, runCommand } from '../helpers/cli';
import { startAptProxy, type AptProxy } from '../helpers/apt-proxy';
import { forwardIntoNetns, type NetnsForward } from '../helpers/netns-forward';
import { aptMirror } from '../../src/images/bootstrap/debian';

const DOCKER_28 = DOCKER_CLIENTS.find((c) => c === '/usr/local/bin/docker');
const skip =
  needsRoot('needs root (runc, overlay mounts, network namespaces)') ||
  (DOCKER_28 ? false : 'docker CLI 28 not installed') ||
  (existsSync('/usr/sbin/debootstrap') ? false : 'debootstrap not installed') ||
  (process.env.BERTH_TEST_NO_APT === '1' ? 'BERTH_TEST_NO_APT=1: no Debian mirror here' : false);

const ENTRYPOINT = path.join(REPO_ROOT, 'test', 'fixtures', 'mariadb', 'docker-entrypoint.sh');
const MYSQL_QUERY = path.join(REPO_ROOT, 'dist', 'test', 'helpers', 'mysql-query.js');
const PASSWORD = 'seeds-Secret-42';
const DB_RUN = ['run', '-d', '--name', 'db', '--network', 'dbnet', '-e', `MARIADB_ROOT_PASSWORD=${PASSWORD}`, '-v', 'dbdata:/var/lib/mysql', '-p', '127.0.0.1:13306:3306', 'mariadb:story'];

/**
 * The seeds' story end to end (issue 8): a MariaDB image built from the Debian image
 * (`berth image bootstrap debian`, apt-get install in a container on the default bridge,
 * commit), a database container with its data in a named volume and a published port, a
 * client container writing a row over a user network by name, the "host" (the daemon's
 * network namespace) reading it through the published port with mysql2, and the row still
 * there after the container is removed and recreated on the same volume.
 *
 * The daemon runs in a network namespace of its own (the host's network is never touched),
 * which has no route out; debootstrap (run by berthd) and apt in the build container fetch
 * from this machine's Debian mirror through an HTTP proxy on the host's 127.0.0.1 that lets
 * only the mirror's host through (apt-proxy.ts), made reachable in the namespace (on all its
 * addresses, so also at the bridge gateway) by netns-forward.ts. The image is built once per
 * run in the test's own data root; nothing is kept outside it.
 *
 * The whole story takes about 7 minutes on this machine under load (debootstrap 3-4 of them),
 * so it also holds the checks of the Debian image itself (they were an opt-in test of their
 * own): one debootstrap per suite run.
 */
describe('the seeds\' story: MariaDB from the Debian image, on a volume, reached by name and through a published port', { skip }, () => {
  let daemon: TestDaemon;
  let proxy: AptProxy;
  let forward: NetnsForward;
  /** berthd's TMPDIR, where debootstrap's temp rootfs goes (and must be gone from afterwards). */
  let tmpdir: string;
  const d = (args: string[], timeoutMs = 120_000) => docker(DOCKER_28!, daemon.host, args, { timeoutMs });
  const ok = async (args: string[], timeoutMs?: number) => {
    const r = await d(args, timeoutMs);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}${r.stdout.slice(-4000)}`);
    return r.stdout.trim();
  };
  /** SQL through the published port from the daemon's "host" (its netns), with mysql2. */
  const hostQuery = async (sql: string): Promise<unknown[]> => {
    const c = daemon.netns!.command(process.execPath, [MYSQL_QUERY, '127.0.0.1', '13306', 'root', PASSWORD, sql, '90000']);
    const r = await runCommand(c.file, c.args, { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `mysql2 in the daemon's namespace: ${r.stderr}`);
    return JSON.parse(r.stdout) as unknown[];
  };

  before(async () => {
    const mirror = (await aptMirror()) ?? 'http://deb.debian.org/debian';
    proxy = await startAptProxy([new URL(mirror).hostname]);
    tmpdir = await fs.mkdtemp(path.join(os.tmpdir(), 'bt-tmp-'));
    daemon = await startTestDaemon({ env: { http_proxy: `http://127.0.0.1:${proxy.port}`, TMPDIR: tmpdir } });
    forward = await forwardIntoNetns(daemon.netns!, proxy.port, '0.0.0.0');
  });
  after(async () => {
    await daemon?.stop();
    await forward?.close();
    await proxy?.close();
    if (tmpdir) await fs.rm(tmpdir, { recursive: true, force: true });
  });

  it('bootstraps debian:bookworm with debootstrap --variant=minbase, through the daemon', async () => {
    const boot = await berth(daemon.host, ['image', 'bootstrap', 'debian'], { timeoutMs: 600_000 });
    assert.equal(boot.code, 0, `berth image bootstrap debian: ${boot.stderr}${boot.stdout}`);
    const fetched = proxy.requests();
    assert.ok(fetched > 10, `debootstrap's downloads went through the proxy (${fetched} requests)`);
    const image = JSON.parse(await ok(['image', 'inspect', 'debian:bookworm']))[0];
    assert.deepEqual(image.Config.Cmd, ['bash']);
    assert.ok(image.Size > 50_000_000, `size ${image.Size}`);
    // One layer: the snapshot's upper dir is the packed rootfs.
    const layer: string = image.GraphDriver.Data.UpperDir;
    assert.match(await fs.readFile(path.join(layer, 'etc/os-release'), 'utf8'), /bookworm/);
    assert.ok((await fs.stat(path.join(layer, 'usr/bin/bash'))).isFile());
    assert.deepEqual(await fs.readdir(path.join(layer, 'dev')), [], 'no device nodes in the layer');
    assert.deepEqual((await fs.readdir(path.join(layer, 'var/lib/apt/lists'))).filter((n) => n !== 'partial'), [], 'apt lists trimmed');
    assert.deepEqual(await fs.readdir(tmpdir), [], 'the temp rootfs is removed');
  });

  it('builds the image: apt-get install mariadb-server in a container on the default bridge, commit', async () => {
    await ok(['run', '-d', '--name', 'build', 'debian:bookworm', 'sleep', 'infinity']);
    const gateway = JSON.parse(await ok(['inspect', 'build']))[0].NetworkSettings.Gateway as string;
    assert.match(gateway, /^\d+\.\d+\.\d+\.\d+$/, 'the build container is on the default bridge');
    const apt = `-o Acquire::http::Proxy=http://${gateway}:${proxy.port}`;
    const install = [
      // As Debian's container images: no service is started by a package's postinst.
      "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d",
      `apt-get ${apt} update -qq`,
      `DEBIAN_FRONTEND=noninteractive apt-get ${apt} -o Dpkg::Options::=--force-unsafe-io install -y -qq --no-install-recommends mariadb-server mariadb-client >/dev/null`,
      // An empty datadir: the entrypoint initialises it on the first start, on the volume.
      'rm -rf /var/lib/mysql/* /var/lib/apt/lists/* /var/cache/apt/*.bin && apt-get clean',
      'mariadbd --version',
    ].join(' && ');
    assert.match(await ok(['exec', 'build', 'sh', '-c', install], 600_000), /mariadbd\s+Ver 10\.11/);
    await ok(['cp', ENTRYPOINT, 'build:/usr/local/bin/docker-entrypoint.sh']);
    await ok(['commit', '--change', 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]', '--change', 'CMD ["mariadbd"]', '--change', 'EXPOSE 3306', 'build', 'mariadb:story']);
    await ok(['rm', '-f', 'build']);
    const image = JSON.parse(await ok(['image', 'inspect', 'mariadb:story']))[0];
    assert.deepEqual(image.Config.Entrypoint, ['/usr/local/bin/docker-entrypoint.sh']);
    assert.deepEqual(image.Config.Cmd, ['mariadbd']);
    assert.deepEqual(Object.keys(image.Config.ExposedPorts), ['3306/tcp']);
  });

  it('runs the database on a volume with a published port; a client container writes by name, the host reads through the port', async () => {
    await ok(['network', 'create', 'dbnet']);
    await ok(DB_RUN);
    assert.deepEqual(await hostQuery('SELECT 1 AS up'), [{ up: 1 }]);
    assert.match(await ok(['port', 'db']), /^3306\/tcp -> 127\.0\.0\.1:13306$/m);

    const sql = "CREATE DATABASE seeds; CREATE TABLE seeds.plants (name VARCHAR(40) PRIMARY KEY, sown DATE); INSERT INTO seeds.plants VALUES ('tomato', '2026-03-01');";
    await ok(['run', '--rm', '--network', 'dbnet', 'mariadb:story', 'mariadb', '-h', 'db', '-uroot', `-p${PASSWORD}`, '-e', sql]);
    // The client reads it back by name too, and the host through the published port.
    assert.match(await ok(['run', '--rm', '--network', 'dbnet', 'mariadb:story', 'mariadb', '-h', 'db', '-uroot', `-p${PASSWORD}`, '-N', '-e', 'SELECT name FROM seeds.plants']), /^tomato$/m);
    assert.deepEqual(await hostQuery("SELECT name, DATE_FORMAT(sown, '%Y-%m-%d') AS sown FROM seeds.plants"), [{ name: 'tomato', sown: '2026-03-01' }]);
    assert.match(await ok(['logs', 'db']), /Database initialised/);

    // A container on another network cannot reach it by name.
    await ok(['network', 'create', 'othernet']);
    const outsider = await d(['run', '--rm', '--network', 'othernet', 'mariadb:story', 'mariadb', '--connect-timeout=3', '-h', 'db', '-uroot', `-p${PASSWORD}`, '-e', 'SELECT 1']);
    assert.notEqual(outsider.code, 0, 'a container on another network reached the database');
    await ok(['network', 'rm', 'othernet']);
  });

  it('keeps the row when the container is removed and recreated on the same volume', async () => {
    await ok(['rm', '-f', 'db']);
    assert.match(await ok(['volume', 'ls', '--format', '{{.Name}}']), /^dbdata$/m);
    await ok(DB_RUN);
    assert.deepEqual(await hostQuery('SELECT name FROM seeds.plants'), [{ name: 'tomato' }]);
    // The second container found the datadir initialised and did not initialise it again.
    assert.doesNotMatch(await ok(['logs', 'db']), /Initialising/);
    await ok(['rm', '-f', 'db']);
    await ok(['network', 'rm', 'dbnet']);
  });
});
