import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { berth, docker, DOCKER_CLIENTS, runCommand } from '../helpers/cli';
import type { DnsQueryResult } from '../helpers/dns-query';

const DOCKER_28 = DOCKER_CLIENTS.find((c) => c === '/usr/local/bin/docker');
const skip = needsRoot('needs root (runc, overlay mounts, network namespaces)') || (DOCKER_28 ? false : 'docker CLI 28 not installed');

/**
 * Bridge networking on a real berthd (in its own network namespace, so bridges, veths and
 * iptables rules stay off the host): the default bridge, user networks and their isolation,
 * --ip/--mac-address/--network-alias, connect/disconnect while running, Docker's 4xx answers,
 * and hygiene across container exits, network removal, daemon restarts and kill -9.
 */
describe('bridge networks', { skip }, () => {
  let daemon: TestDaemon;
  const d = (...args: string[]) => docker(DOCKER_28!, daemon.host, args, { timeoutMs: 60_000 });
  const ok = async (...args: string[]) => {
    const r = await d(...args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout.trim();
  };
  /** A command in the daemon's network namespace (its "host"). */
  const inNetns = async (file: string, ...args: string[]) => {
    const c = daemon.netns!.command(file, args);
    const r = await runCommand(c.file, c.args, { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `${file} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** An HTTP GET from the daemon's "host" (its netns), retried while the server starts; '' if it never answered. */
  const fetchFromHost = async (address: string) => {
    const c = daemon.netns!.command('curl', ['-s', '--http0.9', '-m', '5', `http://${address}/`]);
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = await runCommand(c.file, c.args, { timeoutMs: 10_000 });
      if (r.stdout.trim()) return r.stdout.trim();
      await new Promise((done) => setTimeout(done, 250));
    }
    return '';
  };
  const links = async () => (await inNetns('ip', '-o', 'link', 'show')).split('\n').filter((l) => l.trim()).map((l) => l.split(':')[1]!.trim().split('@')[0]!);
  /**
   * The links once the veths of removed containers are gone: the daemon deletes them in the
   * background after a container's network is released (ContainerNetworking.release), so they
   * go shortly after stop/rm answer, not necessarily before.
   */
  const linksSettled = async (expected: (names: string[]) => boolean) => {
    let names = await links();
    for (const deadline = Date.now() + 10_000; !expected(names) && Date.now() < deadline; names = await links()) await new Promise((r) => setTimeout(r, 100));
    return names;
  };
  const vethsOf = (names: string[]) => names.filter((l) => l.startsWith('veth'));
  const rules = async () => (await inNetns('iptables-save')).split('\n').filter((l) => l.startsWith('-A ') || l.startsWith(':BERTH'));

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('changes nothing on its network before a container needs the default bridge', async () => {
    const fresh = await startTestDaemon();
    try {
      const c = fresh.netns!.command('ip', ['-o', 'link', 'show']);
      assert.equal((await runCommand(c.file, c.args)).stdout.trim().split('\n').length, 1, 'only lo');
      const save = fresh.netns!.command('iptables-save', []);
      assert.doesNotMatch((await runCommand(save.file, save.args)).stdout, /BERTH/);
      assert.equal((await docker(DOCKER_28!, fresh.host, ['network', 'ls', '--format', '{{.Name}}'])).stdout, 'bridge\nhost\nnone\n');
    } finally {
      await fresh.stop();
    }
  });

  it('runs containers on the default bridge: an address, a default route, its /etc/hosts line, outbound NAT rules', async () => {
    const bridge = JSON.parse(await ok('network', 'inspect', 'bridge'))[0];
    assert.equal(bridge.Driver, 'bridge');
    assert.equal(bridge.Options['com.docker.network.bridge.name'], 'berth0');
    const subnet: string = bridge.IPAM.Config[0].Subnet;
    const gateway: string = bridge.IPAM.Config[0].Gateway;
    const out = await ok('run', '--rm', '--hostname', 'web', 'busybox', 'sh', '-c', `ip -4 -o addr show eth0; ip route; grep web /etc/hosts; ping -c1 -W2 ${gateway} >/dev/null && echo gateway-ok`);
    const address = /inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(out);
    assert.ok(address, out);
    assert.equal(`${subnet.split('/')[1]}`, address[2]);
    assert.match(out, new RegExp(`default via ${gateway.replaceAll('.', '\\.')} dev eth0`));
    assert.match(out, new RegExp(`${address[1]!.replaceAll('.', '\\.')}\\s+web`));
    assert.match(out, /gateway-ok/);
    const nat = await rules();
    assert.ok(nat.includes(`-A BERTH-POSTROUTING -s ${subnet} ! -o berth0 -j MASQUERADE`), nat.join('\n'));
    assert.ok(nat.includes('-A POSTROUTING -j BERTH-POSTROUTING'));
    assert.ok(nat.includes('-A FORWARD -j BERTH-FORWARD'));
    // The --rm container's veth went with it.
    assert.deepEqual(vethsOf(await linksSettled((n) => vethsOf(n).length === 0)), []);
  });

  it('shows a running container on the bridge in inspect, and frees its address when it stops', async () => {
    const id = await ok('run', '-d', 'busybox', 'sleep', '600');
    const inspect = JSON.parse(await ok('inspect', id))[0];
    const settings = inspect.NetworkSettings;
    assert.match(settings.IPAddress, /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(settings.Networks.bridge.IPAddress, settings.IPAddress);
    assert.match(settings.Networks.bridge.EndpointID, /^[0-9a-f]{64}$/);
    assert.equal(settings.Networks.bridge.MacAddress, settings.MacAddress);
    assert.match(settings.SandboxKey, /\/netns\//);
    const bridge = JSON.parse(await ok('network', 'inspect', 'bridge'))[0];
    assert.equal(bridge.Containers[id].IPv4Address, `${settings.IPAddress}/${settings.IPPrefixLen}`);
    assert.equal((await links()).filter((l) => l.startsWith('veth')).length, 1);
    await ok('stop', '-t', '0', id);
    const stopped = JSON.parse(await ok('inspect', id))[0].NetworkSettings;
    assert.equal(stopped.IPAddress, '');
    assert.equal(stopped.Networks.bridge.IPAddress, '');
    assert.deepEqual(vethsOf(await linksSettled((n) => vethsOf(n).length === 0)), []);
    assert.deepEqual(JSON.parse(await ok('network', 'inspect', 'bridge'))[0].Containers, {});
    await ok('rm', id);
  });

  it('connects containers on a user network by name (embedded DNS), isolates other networks, and honours --ip, --mac-address and --network-alias', async () => {
    await ok('network', 'create', '--subnet', '10.77.0.0/24', '--label', 'team=a', 'front');
    await ok('network', 'create', 'back');
    try {
      await ok('run', '-d', '--name', 'f1', '--network', 'front', '--ip', '10.77.0.50', '--mac-address', '02:42:0a:4d:00:32', '--network-alias', 'api', 'busybox', 'sleep', '600');
      await ok('run', '-d', '--name', 'f2', '--network', 'front', 'busybox', 'sleep', '600');
      await ok('run', '-d', '--name', 'b1', '--network', 'back', 'busybox', 'sleep', '600');
      const f1 = JSON.parse(await ok('inspect', 'f1'))[0].NetworkSettings.Networks.front;
      assert.equal(f1.IPAddress, '10.77.0.50');
      assert.equal(f1.MacAddress, '02:42:0a:4d:00:32');
      assert.equal(f1.Gateway, '10.77.0.1');
      assert.deepEqual(f1.IPAMConfig, { IPv4Address: '10.77.0.50' });
      assert.equal(f1.Aliases[0], 'api');
      assert.match(await ok('exec', 'f1', 'ip', 'link', 'show', 'eth0'), /02:42:0a:4d:00:32/);
      assert.match(await ok('exec', 'f2', 'ping', '-c1', '-W2', '10.77.0.50'), /1 packets received/);
      const b1 = JSON.parse(await ok('inspect', 'b1'))[0].NetworkSettings.Networks.back.IPAddress;
      assert.match(b1, /^\d+\.\d+\.\d+\.\d+$/);
      const across = await d('exec', 'f2', 'ping', '-c1', '-W2', b1);
      assert.notEqual(across.code, 0, 'a container on another network answered');
      // The embedded DNS: names and aliases on the network, round robin under a shared alias,
      // nothing from another network (and the other network's server refuses it).
      assert.match(await ok('exec', 'f2', 'ping', '-c1', '-W2', 'f1'), /PING f1 \(10\.77\.0\.50\)/);
      assert.match(await ok('exec', 'f2', 'cat', '/etc/resolv.conf'), /^nameserver 10\.77\.0\.1$/m);
      assert.match(await ok('exec', 'f2', 'nslookup', 'api'), /Address: 10\.77\.0\.50/);
      await ok('run', '-d', '--name', 'f3', '--network', 'front', '--network-alias', 'api', 'busybox', 'sleep', '600');
      const f3 = JSON.parse(await ok('inspect', 'f3'))[0].NetworkSettings.Networks.front.IPAddress as string;
      const firsts = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const answer = await ok('exec', 'f2', 'nslookup', 'api');
        assert.match(answer, new RegExp(`Address: ${f3.replaceAll('.', '\\.')}`));
        firsts.add(/Name:\s+api\s+Address: (\S+)/.exec(answer)![1]!);
      }
      assert.equal(firsts.size, 2, 'round robin: both addresses come first in turn');
      const ping = await d('exec', 'b1', 'ping', '-c1', '-W2', 'f1');
      assert.match(ping.stdout + ping.stderr, /bad address 'f1'/);
      const refused = await d('exec', 'b1', 'nslookup', 'f1', '10.77.0.1');
      assert.match(refused.stdout, /server can't find f1: REFUSED/);
      assert.doesNotMatch(refused.stdout, /10\.77\.0\.50/);
      const front = JSON.parse(await ok('network', 'inspect', 'front'))[0];
      assert.deepEqual(front.IPAM.Config, [{ Subnet: '10.77.0.0/24' }]);
      assert.deepEqual(front.Labels, { team: 'a' });
      assert.deepEqual(Object.values(front.Containers).map((c) => (c as { Name: string }).Name).sort(), ['f1', 'f2', 'f3']);
      assert.equal(await ok('network', 'ls', '--filter', 'label=team=a', '--format', '{{.Name}}'), 'front');
      assert.equal(await ok('network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}}'), 'back\nfront');

      // connect and disconnect while running: an eth1 on the other network, then gone.
      const pinned = (b1 as string).replace(/\.\d+$/, '.200');
      await ok('network', 'connect', '--alias', 'x', '--ip', pinned, 'back', 'f2');
      assert.match(await ok('exec', 'f2', 'ping', '-c1', '-W2', b1), /1 packets received/);
      assert.match(await ok('exec', 'f2', 'ip', '-4', 'addr', 'show', 'eth1'), new RegExp(`inet ${pinned.replace(/\./g, '\\.')}/`));
      assert.match(await ok('exec', 'b1', 'nslookup', 'x'), new RegExp(`Address: ${pinned.replace(/\./g, '\\.')}$`, 'm'), 'the alias given at connect');
      await ok('network', 'disconnect', 'back', 'f2');
      assert.doesNotMatch(await ok('exec', 'f2', 'ip', 'link'), /eth1/);
      assert.deepEqual(Object.keys(JSON.parse(await ok('inspect', 'f2'))[0].NetworkSettings.Networks), ['front']);
    } finally {
      await d('rm', '-f', 'f1', 'f2', 'f3', 'b1');
      await ok('network', 'rm', 'front', 'back');
    }
    // Their bridges and rules went with them.
    assert.deepEqual((await linksSettled((n) => vethsOf(n).length === 0)).filter((l) => l.startsWith('br-') || l.startsWith('veth')), []);
    assert.deepEqual((await rules()).filter((r) => r.includes('br-')), []);
  });

  it("keeps the gateway's MAC while containers come and go, so their ARP caches stay right and DNS answers after every start and removal", async () => {
    // A bridge without an address of its own takes its lowest port's MAC: every veth that came
    // or went could change the gateway's MAC under the running containers (a CI flake: a
    // container's nslookup timed out right after another container joined its network).
    const id = await ok('network', 'create', '--subnet', '10.76.0.0/24', 'churn');
    const bridgeMac = async () => (JSON.parse(await inNetns('ip', '-j', 'link', 'show', 'dev', `br-${id.slice(0, 12)}`)) as Array<{ address: string }>)[0]!.address;
    const mac = await bridgeMac();
    try {
      await ok('run', '-d', '--name', 'c1', '--network', 'churn', '--network-alias', 'svc', 'busybox', 'sleep', '600');
      await ok('run', '-d', '--name', 'c2', '--network', 'churn', 'busybox', 'sleep', '600');
      const probe = 'ping -c1 -W2 10.76.0.1 >/dev/null && nslookup svc';
      for (let round = 0; round < 8; round++) {
        await ok('run', '-d', '--name', 'c3', '--network', 'churn', 'busybox', 'sleep', '600');
        assert.equal(await bridgeMac(), mac, `round ${round}: a container joined`);
        assert.match(await ok('exec', 'c2', 'sh', '-c', probe), /Address: 10\.76\.0\.2/);
        await ok('rm', '-f', 'c3');
        assert.equal(await bridgeMac(), mac, `round ${round}: a container left`);
        assert.match(await ok('exec', 'c2', 'sh', '-c', probe), /Address: 10\.76\.0\.2/);
      }
    } finally {
      await d('rm', '-f', 'c1', 'c2', 'c3');
      await ok('network', 'rm', 'churn');
    }
  });

  it("answers bad input with Docker's 4xx and leaves nothing half-made", async () => {
    await ok('network', 'create', '--subnet', '10.78.0.0/24', 'taken');
    await ok('run', '-d', '--name', 'user', '--network', 'taken', 'busybox', 'sleep', '600');
    try {
      const before = { links: await linksSettled((n) => vethsOf(n).length === 1), rules: await rules(), networks: await ok('network', 'ls', '-q') };
      const cases: Array<[string, string, unknown, number, RegExp]> = [
        ['POST', '/networks/create', { Name: 'overlap', IPAM: { Config: [{ Subnet: '10.78.0.128/25' }] } }, 403, /^Pool overlaps with other one on this address space$/],
        ['POST', '/networks/create', { Name: 'taken' }, 409, /^network with name taken already exists$/],
        ['POST', '/networks/create', { Name: 'bad', IPAM: { Config: [{ Subnet: '10.79.0.0/33' }] } }, 400, /invalid subnet 10\.79\.0\.0\/33/],
        ['POST', '/networks/create', { Name: 'bad', IPAM: { Config: [{ Subnet: '10.79.0.0/24', Gateway: '10.80.0.1' }] } }, 400, /out of range/],
        ['POST', '/networks/create', { Name: 'bad', Driver: 'overlay2x' }, 404, /plugin "overlay2x" not found/],
        ['POST', '/networks/create', { Name: 'host' }, 403, /predefined host network/],
        ['GET', '/networks/nonet', undefined, 404, /^network nonet not found$/],
        ['DELETE', '/networks/taken', undefined, 403, /^error while removing network: network taken id [0-9a-f]{64} has active endpoints$/],
        ['DELETE', '/networks/bridge', undefined, 403, /pre-defined network and cannot be removed/],
        ['POST', '/networks/taken/connect', { Container: 'user' }, 403, /^endpoint with name user already exists in network taken$/],
        ['POST', '/networks/nonet/connect', { Container: 'user' }, 404, /^network nonet not found$/],
        ['POST', '/networks/taken/connect', { Container: 'nobody' }, 404, /No such container: nobody/],
        ['POST', '/networks/bridge/disconnect', { Container: 'user' }, 403, /is not connected to network bridge/],
        ['POST', '/containers/create', { Image: 'busybox', NetworkingConfig: { EndpointsConfig: { bridge: { Aliases: ['a'] } } } }, 400, /network-scoped alias is supported only for containers in user defined networks/],
        ['POST', '/containers/create', { Image: 'busybox', HostConfig: { NetworkMode: 'taken' }, NetworkingConfig: { EndpointsConfig: { taken: { IPAMConfig: { IPv4Address: '10.1.2.3' } } } } }, 400, /Invalid address 10\.1\.2\.3: It does not belong to any of this network's subnets/],
      ];
      for (const [method, url, body, status, message] of cases) {
        const res = await apiRequest(daemon.socket, method, url, body);
        assert.equal(res.status, status, `${method} ${url} ${JSON.stringify(body)}: ${res.body}`);
        assert.match(JSON.parse(res.body).message, message, `${method} ${url}`);
      }
      // An unknown network at create is dockerd's: the container is made and its start is the 404
      // (a 404 from create would make the docker CLI pull the image); --rm removes it again.
      const unknown = await d('run', '--rm', '--network', 'nonet', 'busybox', 'true');
      assert.equal(unknown.code, 125, unknown.stderr);
      assert.match(unknown.stderr, /Error response from daemon: network nonet not found/);
      assert.doesNotMatch(unknown.stderr, /Unable to find image/);
      const created = await apiRequest(daemon.socket, 'POST', '/containers/create?name=later', { Image: 'busybox', HostConfig: { NetworkMode: 'nonet' } });
      assert.equal(created.status, 201, created.body);
      const start = await apiRequest(daemon.socket, 'POST', '/containers/later/start');
      assert.deepEqual([start.status, JSON.parse(start.body).message], [404, 'network nonet not found']);
      // Made later, the network is found by its name at the next start, and its ID is kept.
      const nonetId = await ok('network', 'create', 'nonet');
      await ok('start', '-a', 'later');
      assert.equal(await ok('inspect', '--format', '{{.NetworkSettings.Networks.nonet.NetworkID}}', 'later'), nonetId);
      await ok('rm', 'later');
      await ok('network', 'rm', 'nonet');
      // The same address twice: the second start fails with the conflict, the first keeps it.
      await ok('create', '--name', 'twin', '--network', 'taken', '--ip', (JSON.parse(await ok('inspect', 'user'))[0].NetworkSettings.Networks.taken.IPAddress as string), 'busybox', 'true');
      const twin = await d('start', 'twin');
      assert.notEqual(twin.code, 0);
      assert.match(twin.stderr, /Address already in use/);
      await ok('rm', 'twin');
      assert.deepEqual({ links: await linksSettled((n) => vethsOf(n).length === 1), rules: await rules(), networks: await ok('network', 'ls', '-q') }, before);
    } finally {
      await d('rm', '-f', 'user');
      await ok('network', 'rm', 'taken');
    }
  });

  it('keeps running containers networked across a restart and a kill -9, with no duplicate rules and nothing leaked', async () => {
    await ok('network', 'create', 'keep');
    const id = await ok('run', '-d', '--name', 'keeper', '--network', 'keep', 'busybox', 'sleep', '600');
    const exiting = await ok('run', '-d', '--network', 'keep', 'busybox', 'sleep', '3');
    const address = JSON.parse(await ok('inspect', id))[0].NetworkSettings.Networks.keep.IPAddress as string;
    const baseline = await rules();
    await daemon.crash();
    // The short one exits while the daemon is down: its endpoint and veth must go at the next start.
    await new Promise((r) => setTimeout(r, 4000));
    await daemon.restart();
    // Ten more restarts, clean (SIGTERM) and kill -9 in turn.
    for (let i = 0; i < 10; i++) {
      if (i % 2 === 0) {
        const exited = once(daemon.process, 'exit');
        daemon.process.kill('SIGTERM');
        await exited;
      } else {
        await daemon.crash();
      }
      await daemon.restart();
    }
    assert.deepEqual(await rules(), baseline);
    const after = JSON.parse(await ok('inspect', id))[0].NetworkSettings.Networks.keep;
    assert.equal(after.IPAddress, address);
    assert.match(await ok('run', '--rm', '--network', 'keep', 'busybox', 'ping', '-c1', '-W2', address), /1 packets received/);
    assert.match(await ok('run', '--rm', '--network', 'keep', 'busybox', 'ping', '-c1', '-W2', 'keeper'), /1 packets received/, 'the embedded DNS is back');
    assert.equal(JSON.parse(await ok('inspect', exiting))[0].State.Running, false);
    assert.equal(vethsOf(await linksSettled((n) => vethsOf(n).length === 1)).length, 1, 'only the running container keeps a veth');
    const network = JSON.parse(await ok('network', 'inspect', 'keep'))[0];
    assert.deepEqual(Object.keys(network.Containers), [id]);
    await ok('rm', '-f', id, exiting);
    await ok('network', 'rm', 'keep');
    assert.deepEqual((await linksSettled((n) => vethsOf(n).length === 0)).filter((l) => l.startsWith('veth') || l.startsWith('br-')), []);
  });

  it('publishes ports (-p, -p ip::port, -P) to 127.0.0.1, the host address and other containers; port and ps show them; a taken port is a 409', async () => {
    const bridge = JSON.parse(await ok('network', 'inspect', 'bridge'))[0];
    const hostAddress: string = bridge.IPAM.Config[0].Gateway;
    const serve = "while true; do echo hello-$0 | nc -l -p $0; done";
    const id = await ok('run', '-d', '--name', 'web', '-p', '18080:80', '-p', '127.0.0.1::81', '--expose', '90', '-P', 'busybox', 'sh', '-c', `${serve.replaceAll('$0', '80')} & ${serve.replaceAll('$0', '81')} & ${serve.replaceAll('$0', '90')}`);
    try {
      const ports = (await ok('port', 'web')).split('\n').sort();
      assert.equal(ports[0], '80/tcp -> 0.0.0.0:18080');
      assert.match(ports[1]!, /^81\/tcp -> 127\.0\.0\.1:(\d+)$/);
      assert.match(ports[2]!, /^90\/tcp -> 0\.0\.0\.0:(\d+)$/);
      for (const args of [['port', 'web'], ['port', 'web', '80'], ['port', 'web', '99/udp']]) {
        const fromDocker = await d(...args);
        const fromBerth = await berth(daemon.host, args);
        assert.deepEqual({ out: fromBerth.stdout, err: fromBerth.stderr, code: fromBerth.code }, { out: fromDocker.stdout, err: fromDocker.stderr, code: fromDocker.code }, args.join(' '));
      }
      const ephemeral = Number(/:(\d+)$/.exec(ports[2]!)![1]);
      assert.ok(ephemeral >= 49153 && ephemeral <= 60999, String(ephemeral));
      assert.match(await ok('ps', '--format', '{{.Ports}}', '--filter', 'name=web'), /0\.0\.0\.0:18080->80\/tcp/);
      const inspected = JSON.parse(await ok('inspect', id))[0].NetworkSettings.Ports;
      assert.deepEqual(inspected['80/tcp'], [{ HostIp: '0.0.0.0', HostPort: '18080' }]);
      assert.equal(await fetchFromHost(`127.0.0.1:18080`), 'hello-80', 'through the 127.0.0.1 listener');
      assert.equal(await fetchFromHost(`${hostAddress}:18080`), 'hello-80', 'through kernel NAT on the host address');
      assert.equal(await fetchFromHost(`${hostAddress}:${ephemeral}`), 'hello-90', '-P on an ephemeral port');
      assert.match(await ok('run', '--rm', 'busybox', 'sh', '-c', `sleep 1 | nc ${hostAddress} 18080`), /hello-80/, 'hairpin from another container');

      // Taken by berth, then by another process: 409, and the container does not start.
      const again = await apiRequest(daemon.socket, 'POST', '/containers/create?name=clash', { Image: 'busybox', Cmd: ['true'], ExposedPorts: { '80/tcp': {} }, HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '18080' }] } } });
      assert.equal(again.status, 201, again.body);
      const clash = await apiRequest(daemon.socket, 'POST', '/containers/clash/start');
      assert.equal(clash.status, 409, clash.body);
      assert.match(JSON.parse(clash.body).message, /Bind for 0\.0\.0\.0:18080 failed: port is already allocated/);
      const holder = daemon.netns!.command(process.execPath, ['-e', "require('net').createServer().listen(18081, () => console.log('ready')); setTimeout(() => {}, 60000)"]);
      const other = spawn(holder.file, holder.args, { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        await once(other.stdout!, 'data');
        const busy = await d('run', '--rm', '-p', '18081:80', 'busybox', 'true');
        assert.notEqual(busy.code, 0);
        assert.match(busy.stderr, /Bind for 0\.0\.0\.0:18081 failed: port is already allocated/);
      } finally {
        other.kill();
      }
      await ok('rm', 'clash');
      // A binding of a port the container does not expose publishes nothing, as in dockerd 20.10
      // (its endpoint walks Config.ExposedPorts): no 409 on the taken port, no mapping.
      const unexposed = await apiRequest(daemon.socket, 'POST', '/containers/create?name=unexposed', { Image: 'busybox', Cmd: ['sleep', '60'], HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '18080' }] } } });
      assert.equal(unexposed.status, 201, unexposed.body);
      await ok('start', 'unexposed');
      assert.equal(await ok('port', 'unexposed'), '');
      assert.equal(await ok('inspect', '--format', '{{json .NetworkSettings.Ports}} {{json .HostConfig.PortBindings}}', 'unexposed'), '{} {"80/tcp":[{"HostIp":"","HostPort":"18080"}]}');
      await ok('rm', '-f', 'unexposed');
      const bad = await apiRequest(daemon.socket, 'POST', '/containers/create', { Image: 'busybox', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '70000' }] } } });
      assert.equal(bad.status, 400, bad.body);

      // A restart keeps the published port (the listener is opened again, the rules are not doubled).
      const before = await rules();
      await daemon.crash();
      await daemon.restart();
      assert.deepEqual(await rules(), before);
      assert.equal(await fetchFromHost(`127.0.0.1:18080`), 'hello-80');
      assert.equal(await fetchFromHost(`${hostAddress}:18080`), 'hello-80');
    } finally {
      await d('rm', '-f', 'web', 'clash');
    }
    assert.deepEqual((await rules()).filter((r) => r.includes('DNAT --to') || r.includes('--dport')), []);
  });

  it('publishes UDP (-p 5353:53/udp: kernel NAT on the host address, the relay on 127.0.0.1 and for hairpin) and port ranges (-p 18100-18102:80-82, -p 18110-18120:90)', async () => {
    const hostAddress: string = JSON.parse(await ok('network', 'inspect', 'bridge'))[0].IPAM.Config[0].Gateway;
    const serve = (port: number) => `while true; do echo hello-${port} | nc -l -p ${port}; done`;
    await ok('run', '-d', '--name', 'udp', '-p', '5353:53/udp', '-p', '18100-18102:80-82', '-p', '18110-18120:90', 'busybox', 'sh', '-c', [80, 81, 82, 90].map(serve).join(' & '));
    // The second asks for the same host range: the first port of it that is free.
    await ok('run', '-d', '--name', 'udp2', '-p', '18110-18120:90', 'busybox', 'sh', '-c', serve(90));
    // busybox has no UDP server: a DNS server (answering every A query with 10.66.2.1) runs in the container's network namespace.
    const sandbox = JSON.parse(await ok('inspect', 'udp'))[0].NetworkSettings.SandboxKey as string;
    const script = `const p=require(${JSON.stringify(require.resolve('dns-packet'))});const s=require('dgram').createSocket('udp4');
s.on('message',(m,r)=>{const q=p.decode(m);s.send(p.encode({id:q.id,type:'response',flags:p.RECURSION_AVAILABLE,questions:q.questions,answers:[{type:'A',name:q.questions[0].name,ttl:60,data:'10.66.2.1'}]}),r.port,r.address)});
s.bind(53,'0.0.0.0',()=>console.log('ready'))`;
    const server = spawn('nsenter', [`--net=${sandbox}`, '--', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await once(server.stdout!, 'data');
      assert.deepEqual((await ok('port', 'udp')).split('\n').sort(), ['53/udp -> 0.0.0.0:5353', '80/tcp -> 0.0.0.0:18100', '81/tcp -> 0.0.0.0:18101', '82/tcp -> 0.0.0.0:18102', '90/tcp -> 0.0.0.0:18110']);
      assert.equal(await ok('port', 'udp2', '90'), '0.0.0.0:18111');
      const udpQuery = async (target: string) => {
        const c = daemon.netns!.command(process.execPath, [require.resolve('../helpers/dns-query'), target, 'udp.test', 'A', 'udp']);
        const r = await runCommand(c.file, c.args, { timeoutMs: 20_000 });
        assert.equal(r.code, 0, `${target}: ${r.stderr}`);
        return (JSON.parse(r.stdout) as DnsQueryResult).answers.map((a) => a.data);
      };
      const dnatPackets = async () => {
        const line = (await inNetns('iptables-save', '-c', '-t', 'nat')).split('\n').find((l) => l.includes('-p udp') && l.includes('--dport 5353') && l.includes('DNAT'));
        assert.ok(line, 'a DNAT rule for 5353/udp');
        return Number(/^\[(\d+):/.exec(line)![1]);
      };
      const before = await dnatPackets();
      assert.deepEqual(await udpQuery(`${hostAddress}:5353`), ['10.66.2.1'], 'through kernel NAT on the host address');
      assert.ok((await dnatPackets()) > before, 'the kernel rule carried it');
      assert.deepEqual(await udpQuery('127.0.0.1:5353'), ['10.66.2.1'], 'through the 127.0.0.1 relay');
      assert.match(await ok('run', '--rm', 'busybox', 'nslookup', '-port=5353', 'udp.test', hostAddress), /Address: 10\.66\.2\.1/, 'hairpin from another container');
      for (const [hostPort, expected] of [[18100, 'hello-80'], [18101, 'hello-81'], [18102, 'hello-82'], [18110, 'hello-90'], [18111, 'hello-90']] as const) {
        assert.equal(await fetchFromHost(`127.0.0.1:${hostPort}`), expected, `127.0.0.1:${hostPort}`);
        assert.equal(await fetchFromHost(`${hostAddress}:${hostPort}`), expected, `${hostAddress}:${hostPort}`);
      }
      // A range with no free port left is a 409.
      const full = await d('run', '--rm', '-p', '18100-18102:80', 'busybox', 'true');
      assert.notEqual(full.code, 0);
      assert.match(full.stderr, /Bind for 0\.0\.0\.0:18100-18102 failed: port is already allocated/);
    } finally {
      server.kill('SIGKILL');
      await once(server, 'exit').catch(() => undefined);
      await d('rm', '-f', 'udp', 'udp2');
    }
    assert.deepEqual((await rules()).filter((r) => r.includes('DNAT --to') || r.includes('--dport')), []);
  });

  it('--internal: peers and their names, nothing beyond the network; --ip-range: addresses only from the range (--ip may be outside it)', async () => {
    const outside: string = JSON.parse(await ok('network', 'inspect', 'bridge'))[0].IPAM.Config[0].Gateway;
    await ok('network', 'create', '--internal', '--subnet', '10.73.0.0/24', 'sealed');
    await ok('network', 'create', '--subnet', '10.74.0.0/24', '--ip-range', '10.74.0.200/31', '--gateway', '10.74.0.1', 'ranged');
    // Without --gateway, dockerd's IPAM takes the gateway from the range: its first address.
    await ok('network', 'create', '--subnet', '10.75.0.0/24', '--ip-range', '10.75.0.200/31', 'ranged-gw');
    try {
      assert.equal(JSON.parse(await ok('network', 'inspect', 'sealed'))[0].Internal, true);
      await ok('run', '-d', '--name', 'in1', '--network', 'sealed', 'busybox', 'sleep', '600');
      const probe = await ok('run', '--rm', '--network', 'sealed', 'busybox', 'sh', '-c', `ip route; ping -c1 -W2 in1 >/dev/null && echo peer-ok; ping -c1 -W2 ${outside} >/dev/null 2>&1 && echo outside-reached; wget -q -T 2 -O- http://${outside}:1/ >/dev/null 2>&1; echo done`);
      assert.match(probe, /peer-ok/, 'a peer by name');
      assert.doesNotMatch(probe, /outside-reached/, 'the daemon namespace\'s other address');
      assert.doesNotMatch(probe, /^default/m, 'no default route');
      assert.ok((await rules()).some((r) => /-A BERTH-ISOLATION-1 -i br-\S+ ! -o br-\S+ -j DROP/.test(r)), 'forwarding out of it is dropped');
      // Even with a route, nothing is forwarded out of the internal bridge: not to a container on the default bridge.
      await ok('run', '-d', '--name', 'outsider', 'busybox', 'sleep', '600');
      const outsider = JSON.parse(await ok('inspect', 'outsider'))[0].NetworkSettings.IPAddress as string;
      const routed = await d('run', '--rm', '--cap-add', 'NET_ADMIN', '--network', 'sealed', 'busybox', 'sh', '-c', `ip route add default via 10.73.0.1 && ping -c1 -W2 ${outsider}`);
      assert.notEqual(routed.code, 0, routed.stdout);
      assert.match(await ok('exec', 'outsider', 'ping', '-c1', '-W2', outside), /1 packets received/, 'the default bridge itself works');

      const addresses: string[] = [];
      for (const name of ['r1', 'r2']) {
        await ok('run', '-d', '--name', name, '--network', 'ranged', 'busybox', 'sleep', '600');
        addresses.push(JSON.parse(await ok('inspect', name))[0].NetworkSettings.Networks.ranged.IPAddress);
      }
      assert.deepEqual(addresses.sort(), ['10.74.0.200', '10.74.0.201']);
      const third = await d('run', '-d', '--name', 'r3', '--network', 'ranged', 'busybox', 'sleep', '600');
      assert.notEqual(third.code, 0);
      assert.match(third.stderr, /no available IPv4 addresses on network ranged/);
      await ok('rm', 'r3');
      await ok('run', '-d', '--name', 'r4', '--network', 'ranged', '--ip', '10.74.0.10', 'busybox', 'sleep', '600');
      assert.deepEqual(JSON.parse(await ok('network', 'inspect', 'ranged'))[0].IPAM.Config, [{ Subnet: '10.74.0.0/24', IPRange: '10.74.0.200/31', Gateway: '10.74.0.1' }]);
      await ok('run', '-d', '--name', 'g1', '--network', 'ranged-gw', 'busybox', 'sleep', '600');
      const g1 = JSON.parse(await ok('inspect', 'g1'))[0].NetworkSettings.Networks['ranged-gw'];
      assert.deepEqual([g1.IPAddress, g1.Gateway], ['10.75.0.201', '10.75.0.200']);
      assert.deepEqual(JSON.parse(await ok('network', 'inspect', 'ranged-gw'))[0].IPAM.Config, [{ Subnet: '10.75.0.0/24', IPRange: '10.75.0.200/31' }]);
      const full = await d('run', '-d', '--name', 'g2', '--network', 'ranged-gw', 'busybox', 'sleep', '600');
      assert.notEqual(full.code, 0);
      assert.match(full.stderr, /no available IPv4 addresses on network ranged-gw/);
    } finally {
      await d('rm', '-f', 'in1', 'outsider', 'r1', 'r2', 'r3', 'r4', 'g1', 'g2');
      await ok('network', 'rm', 'sealed', 'ranged', 'ranged-gw');
    }
  });

  it('-o enable_icc=false drops traffic between its containers (names still resolve), enable_ip_masquerade=false has no NAT, host_binding_ipv4 is the default host address of -p; bad values are a 400', async () => {
    const bridgeOpt = (key: string, value: string) => ['-o', `com.docker.network.bridge.${key}=${value}`];
    await ok('network', 'create', '--subnet', '10.76.0.0/24', ...bridgeOpt('enable_icc', 'false'), ...bridgeOpt('enable_ip_masquerade', 'false'), ...bridgeOpt('host_binding_ipv4', '127.0.0.1'), 'opts');
    try {
      await ok('run', '-d', '--name', 'o1', '--network', 'opts', '-p', '18600:80', 'busybox', 'sleep', '600');
      const probe = await d('run', '--rm', '--network', 'opts', 'busybox', 'sh', '-c', 'nslookup o1 >/dev/null && echo resolved; ping -c1 -W2 o1 >/dev/null && echo reached; echo done');
      assert.match(probe.stdout, /resolved/);
      assert.doesNotMatch(probe.stdout, /reached/, 'icc off: no traffic between its containers');
      assert.equal(await ok('port', 'o1'), '80/tcp -> 127.0.0.1:18600');
      const bridge = `br-${(await ok('network', 'inspect', '-f', '{{.Id}}', 'opts')).slice(0, 12)}`;
      const own = (await rules()).filter((r) => r.includes(bridge) || r.includes('10.76.0.0/24'));
      assert.ok(own.includes(`-A BERTH-FORWARD -i ${bridge} -o ${bridge} -j DROP`), own.join('\n'));
      assert.ok(!own.some((r) => r.includes('MASQUERADE')), own.join('\n'));
    } finally {
      await d('rm', '-f', 'o1');
      await ok('network', 'rm', 'opts');
    }
    assert.deepEqual((await rules()).filter((r) => r.includes('10.76.0.0/24') || r.includes('18600')), [], 'its rules went with it');
    for (const [key, value, message] of [['enable_icc', 'maybe', /failed to parse com\.docker\.network\.bridge\.enable_icc value: maybe/], ['host_binding_ipv4', 'notip', /failed to parse com\.docker\.network\.bridge\.host_binding_ipv4 value: notip/]] as const) {
      const res = await apiRequest(daemon.socket, 'POST', '/networks/create', { Name: 'badopt', Options: { [`com.docker.network.bridge.${key}`]: value } });
      assert.equal(res.status, 400, res.body);
      assert.match(JSON.parse(res.body).message, message);
    }
  });

  it('berth network commands print what docker prints', async () => {
    await ok('network', 'create', '--subnet', '10.81.0.0/24', '--label', 'k=v', 'cli1');
    try {
      for (const args of [['network', 'ls'], ['network', 'ls', '--no-trunc'], ['network', 'ls', '-q'], ['network', 'ls', '--format', '{{json .}}'], ['network', 'inspect', 'cli1'], ['network', 'inspect', '-f', '{{.Name}} {{.Driver}} {{json .IPAM.Config}} {{.Internal}}', 'cli1', 'bridge'], ['network', 'inspect', 'nonet'], ['network', 'rm', 'nonet']]) {
        const fromDocker = await d(...args);
        const fromBerth = await berth(daemon.host, args);
        assert.deepEqual({ out: fromBerth.stdout, err: fromBerth.stderr, code: fromBerth.code }, { out: fromDocker.stdout, err: fromDocker.stderr, code: fromDocker.code }, args.join(' '));
      }
      const created = await berth(daemon.host, ['network', 'create', '--subnet', '10.82.0.0/24', '--gateway', '10.82.0.254', 'cli2']);
      assert.equal(created.code, 0, created.stderr);
      assert.deepEqual(JSON.parse(await ok('network', 'inspect', 'cli2'))[0].IPAM.Config, [{ Subnet: '10.82.0.0/24', Gateway: '10.82.0.254' }]);
      const pruned = await berth(daemon.host, ['network', 'prune', '-f', '--filter', 'label=k=v']);
      assert.equal(pruned.stdout, 'Deleted Networks:\ncli1\n\n');
      assert.equal((await berth(daemon.host, ['network', 'rm', 'cli2'])).stdout, 'cli2\n');
    } finally {
      await d('network', 'rm', 'cli1', 'cli2');
    }
  });
});
