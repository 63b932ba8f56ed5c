import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { docker, DOCKER_CLIENTS } from '../helpers/cli';

const DOCKER_28 = DOCKER_CLIENTS.find((c) => c === '/usr/local/bin/docker');
const skip = needsRoot('needs root (runc, overlay mounts, network namespaces)') || (DOCKER_28 ? false : 'docker CLI 28 not installed');

/**
 * The names a container sees (managed /etc/hosts and /etc/resolv.conf) on a real berthd in a
 * network namespace of its own: --add-host with host-gateway reaching a server on the
 * daemon's "host" (its namespace), --dns/--dns-search/--dns-option, and bad --add-host values.
 */
describe('container names: --add-host, host-gateway, --dns options', { skip }, () => {
  let daemon: TestDaemon;
  let server: ChildProcess | undefined;
  let serverPort = 0;
  const d = (...args: string[]) => docker(DOCKER_28!, daemon.host, args, { timeoutMs: 60_000 });
  const ok = async (...args: string[]) => {
    const r = await d(...args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
    // A server on the daemon's host side (all addresses of its namespace), as a database on the host would be.
    const script = "const s=require('http').createServer((q,r)=>r.end('hello from the host\\n'));s.listen(0,'0.0.0.0',()=>console.log(s.address().port))";
    const command = daemon.netns!.command(process.execPath, ['-e', script]);
    server = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(server.stdout!, 'data')) as [Buffer];
    serverPort = Number(line.toString().trim());
    assert.ok(serverPort > 0);
  });
  after(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGKILL');
      await once(server, 'exit');
    }
    await daemon?.stop();
  });

  it('reaches a server on the host through host-gateway, on the default bridge and on a user network', async () => {
    const gateway = JSON.parse(await ok('network', 'inspect', 'bridge'))[0].IPAM.Config[0].Gateway as string;
    const probe = `grep host.docker.internal /etc/hosts; wget -qO- http://host.docker.internal:${serverPort}/`;
    const onBridge = await ok('run', '--rm', '--add-host', 'host.docker.internal:host-gateway', '--add-host', 'db:10.1.2.3', 'busybox', 'sh', '-c', `grep db /etc/hosts; ${probe}`);
    assert.match(onBridge, /^10\.1\.2\.3\tdb$/m);
    assert.match(onBridge, new RegExp(`^${gateway.replaceAll('.', '\\.')}\\thost\\.docker\\.internal$`, 'm'));
    assert.match(onBridge, /hello from the host/);
    await ok('network', 'create', 'names-net');
    try {
      const onUserNetwork = await ok('run', '--rm', '--network', 'names-net', '--add-host', 'host.docker.internal:host-gateway', 'busybox', 'sh', '-c', probe);
      assert.match(onUserNetwork, /hello from the host/);
    } finally {
      await ok('network', 'rm', 'names-net');
    }
    // inspect keeps what was asked for, as dockerd does.
    const id = await ok('create', '--add-host', 'host.docker.internal:host-gateway', 'busybox', 'true');
    assert.deepEqual(JSON.parse(await ok('inspect', id))[0].HostConfig.ExtraHosts, ['host.docker.internal:host-gateway']);
    await ok('rm', id);
  });

  it('writes --dns, --dns-search and --dns-option into resolv.conf on the default bridge', async () => {
    const out = await ok('run', '--rm', '--dns', '10.9.9.9', '--dns-search', 'corp.example', '--dns-option', 'ndots:3', 'busybox', 'cat', '/etc/resolv.conf');
    const lines = out.split('\n').filter((l) => !l.startsWith('#'));
    assert.deepEqual(lines, ['nameserver 10.9.9.9', 'search corp.example', 'options ndots:3']);
  });

  it('answers a bad --add-host with a 400 naming it, and creates nothing', async () => {
    const before = JSON.parse((await apiRequest(daemon.socket, 'GET', '/containers/json?all=1')).body).length as number;
    for (const [entry, message] of [
      ['db:10.0.0', 'invalid IP address in add-host: "10.0.0"'],
      ['nocolon', 'bad format for add-host: "nocolon"'],
    ] as const) {
      const r = await apiRequest(daemon.socket, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { ExtraHosts: [entry] } });
      assert.equal(r.status, 400, r.body);
      assert.equal(JSON.parse(r.body).message, message);
    }
    const afterCount = JSON.parse((await apiRequest(daemon.socket, 'GET', '/containers/json?all=1')).body).length as number;
    assert.equal(afterCount, before);
  });
});
